import type { DynamoImage } from './attribute-value.ts';
import { SOURCES, TTL_DELETE_IDENTITY, type CdcEvent } from './cdc-event.ts';

/**
 * How a record states its time. DynamoDB writes microseconds unless the table's stream was set to
 * milliseconds; older millisecond records carry no precision field at all.
 */
export const TIMESTAMP_PRECISIONS = ['MICROSECOND', 'MILLISECOND', 'MILLISECOND_UNLABELLED'] as const;
export type TimestampPrecision = (typeof TIMESTAMP_PRECISIONS)[number];

/** A Kinesis Data Streams for DynamoDB change record, as Firehose writes it to S3. */
export interface KdsRecord {
  readonly awsRegion: string;
  readonly eventID: string;
  readonly eventName: string;
  readonly userIdentity: typeof TTL_DELETE_IDENTITY | null;
  readonly recordFormat: 'application/json';
  readonly tableName: string;
  readonly dynamodb: KdsStreamRecord;
  readonly eventSource: 'aws:dynamodb';
}

export interface KdsStreamRecord {
  readonly ApproximateCreationDateTime: number;
  readonly ApproximateCreationDateTimePrecision?: 'MICROSECOND' | 'MILLISECOND';
  readonly Keys: DynamoImage;
  readonly NewImage?: DynamoImage;
  readonly OldImage?: DynamoImage;
  readonly SizeBytes: number;
}

export const AWS_REGION = 'eu-west-1';

const TTL_IDENTITY_JSON = JSON.stringify(TTL_DELETE_IDENTITY);
const PRECISION_JSON: Readonly<Record<TimestampPrecision, string>> = {
  MICROSECOND: ',"ApproximateCreationDateTimePrecision":"MICROSECOND"',
  MILLISECOND: ',"ApproximateCreationDateTimePrecision":"MILLISECOND"',
  MILLISECOND_UNLABELLED: '',
};

/**
 * The event as one line of compact JSON, properties in the order AWS writes them. Assembled from the
 * event's ready-made JSON parts; no part holds a raw newline, since JSON escapes control characters.
 */
export function serializeKdsRecord(event: CdcEvent, precision: TimestampPrecision, eventId: string = event.eventId): string {
  const time = precision === 'MICROSECOND' ? event.eventTimeMs * 1000 : event.eventTimeMs;
  const newImage = event.newImageJson === undefined ? '' : `,"NewImage":${event.newImageJson}`;
  const oldImage = event.oldImageJson === undefined ? '' : `,"OldImage":${event.oldImageJson}`;
  return (
    `{"awsRegion":"${AWS_REGION}","eventID":${JSON.stringify(eventId)},"eventName":"${event.eventName}",` +
    `"userIdentity":${event.deletedByTtl ? TTL_IDENTITY_JSON : 'null'},"recordFormat":"application/json",` +
    `"tableName":"${SOURCES[event.source].tableName}","dynamodb":{"ApproximateCreationDateTime":${time}${PRECISION_JSON[precision]},` +
    `"Keys":${event.keysJson}${newImage}${oldImage},"SizeBytes":${event.sizeBytes}},"eventSource":"aws:dynamodb"}`
  );
}

/** The same record as an object, for code that reshapes it (malformed records). */
export function kdsRecord(event: CdcEvent, precision: TimestampPrecision, eventId: string = event.eventId): KdsRecord {
  return JSON.parse(serializeKdsRecord(event, precision, eventId)) as KdsRecord;
}
