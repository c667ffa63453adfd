import type { AttributeValue, DynamoImage } from './attribute-value.ts';
import type { CdcEvent } from './cdc-event.ts';
import { kdsRecord, type KdsRecord, type TimestampPrecision } from './kds-record.ts';
import type { SeededRandom } from './seeded-random.ts';

/**
 * The kinds of bad record the simulator adds. Each maps to the reason the lake quarantines it with
 * (docs/semantics.md), shown in brackets:
 * - truncatedJson: a record cut short [invalid_json]
 * - notAnObject: a JSON array or a bare string [not_an_object]
 * - missingEventId: eventID absent, empty or null [missing_event_id]
 * - unknownEventName: e.g. UPSERT [unknown_event_name]
 * - missingEventTime: ApproximateCreationDateTime absent or a string [missing_event_time]
 * - missingKey: no Keys, a key attribute missing, empty or not a string [missing_key]
 * - missingNewImage: a MODIFY without NewImage [missing_new_image]
 * - missingAttribute: a required attribute left out of NewImage [missing_attribute]
 * - wrongAttributeType: e.g. priority {"S":"high"} [wrong_attribute_type]
 * - invalidValue: e.g. status "archived", priority "2.5", dueDate "2025-13-45" [invalid_status, invalid_priority, invalid_date, invalid_timestamp, invalid_plan]
 */
export const MALFORMED_KINDS = [
  'truncatedJson',
  'notAnObject',
  'missingEventId',
  'unknownEventName',
  'missingEventTime',
  'missingKey',
  'missingNewImage',
  'missingAttribute',
  'wrongAttributeType',
  'invalidValue',
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/**
 * Kinds that are not a JSON object. They go only into newline-delimited objects, where the line ends
 * the damage; in a concatenated object they would swallow or break their neighbours.
 */
export const NEWLINE_ONLY_KINDS: ReadonlySet<MalformedKind> = new Set(['truncatedJson', 'notAnObject']);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableRecord = Omit<Mutable<KdsRecord>, 'dynamodb' | 'eventID'> & {
  eventID?: unknown;
  dynamodb: Record<string, unknown>;
};

/**
 * One bad record of `kind`, built from a good event: it has its own new eventID (so it never
 * deduplicates against a good record) and is extra, never a replacement, so good traffic stays consistent.
 */
export function malformedRecord(kind: MalformedKind, event: CdcEvent, precision: TimestampPrecision, random: SeededRandom): string {
  const base = kdsRecord(event, precision, random.uuid());
  const record: MutableRecord = { ...base, dynamodb: { ...base.dynamodb } };
  const { NewImage: newImage, OldImage: oldImage, Keys: keys } = base.dynamodb;
  const isTasks = event.source === 'tasks';
  switch (kind) {
    case 'truncatedJson': {
      const text = serializeRecord(record);
      return text.slice(0, random.int(Math.floor(text.length / 5), text.length - 2));
    }
    case 'notAnObject':
      return random.chance(0.5) ? serializeRecord([record]) : serializeRecord(`${record.eventName} ${String(record.eventID)}`);
    case 'missingEventId': {
      const variant = random.int(0, 2);
      if (variant === 0) delete record.eventID;
      else record.eventID = variant === 1 ? '' : null;
      return serializeRecord(record);
    }
    case 'unknownEventName':
      record.eventName = random.pick(['UPSERT', 'DELETE', 'insert']);
      return serializeRecord(record);
    case 'missingEventTime':
      if (random.chance(0.5)) {
        delete record.dynamodb.ApproximateCreationDateTime;
        delete record.dynamodb.ApproximateCreationDateTimePrecision;
      } else {
        record.dynamodb.ApproximateCreationDateTime = new Date(event.eventTimeMs).toISOString();
      }
      return serializeRecord(record);
    case 'missingKey':
      record.dynamodb.Keys = brokenKeys(keys, isTasks, random);
      if (record.dynamodb.Keys === undefined) delete record.dynamodb.Keys;
      return serializeRecord(record);
    case 'missingNewImage':
      // An INSERT's image becomes the old image of a MODIFY that forgot its new one.
      record.eventName = 'MODIFY';
      record.dynamodb = withImages(record.dynamodb, undefined, oldImage ?? newImage);
      return serializeRecord(record);
    case 'missingAttribute':
    case 'wrongAttributeType':
    case 'invalidValue': {
      // An image to damage: a REMOVE has none, so it becomes a MODIFY that writes its old image back.
      const image = newImage ?? oldImage ?? {};
      if (newImage === undefined) record.eventName = 'MODIFY';
      const damaged = damageImage(kind, image, isTasks, random);
      record.dynamodb = withImages(record.dynamodb, damaged, oldImage);
      return serializeRecord(record);
    }
  }
}

/** Compact JSON: escapes control characters, so even a damaged record never holds a raw newline. */
function serializeRecord(record: unknown): string {
  return JSON.stringify(record);
}

function brokenKeys(keys: DynamoImage, isTasks: boolean, random: SeededRandom): DynamoImage | undefined {
  switch (random.int(0, 3)) {
    case 0:
      return undefined;
    case 1: {
      // Tasks lose the sort key, users their only key.
      const { [isTasks ? 'taskId' : 'userId']: _dropped, ...rest } = keys;
      return rest;
    }
    case 2:
      return { ...keys, [isTasks ? 'taskId' : 'userId']: { S: '' } };
    default:
      return { ...keys, userId: { N: '42' } };
  }
}

type Damage = (image: Record<string, AttributeValue>) => void;

const TASK_DAMAGE: Readonly<Record<'missingAttribute' | 'wrongAttributeType' | 'invalidValue', readonly Damage[]>> = {
  missingAttribute: [(image) => delete image.title, (image) => delete image.status, (image) => delete image.createdAt],
  wrongAttributeType: [
    (image) => (image.priority = { S: 'high' }),
    (image) => (image.status = { N: '1' }),
    (image) => (image.title = { N: '5' }),
    (image) => (image.tags = { S: 'work' }),
  ],
  invalidValue: [
    (image) => (image.status = { S: 'archived' }),
    (image) => (image.priority = { N: '2.5' }),
    (image) => (image.priority = { N: '7' }),
    (image) => (image.dueDate = { S: '2025-13-45' }),
    (image) => (image.createdAt = { S: 'yesterday' }),
  ],
};

const USER_DAMAGE: typeof TASK_DAMAGE = {
  missingAttribute: [(image) => delete image.email, (image) => delete image.name, (image) => delete image.plan],
  wrongAttributeType: [
    (image) => (image.plan = { N: '1' }),
    (image) => (image.email = { N: '5' }),
    (image) => (image.createdAt = { N: '1761987600' }),
  ],
  invalidValue: [(image) => (image.plan = { S: 'enterprise' }), (image) => (image.createdAt = { S: 'yesterday' })],
};

function damageImage(
  kind: 'missingAttribute' | 'wrongAttributeType' | 'invalidValue',
  image: DynamoImage,
  isTasks: boolean,
  random: SeededRandom,
): DynamoImage {
  const damaged: Record<string, AttributeValue> = { ...image };
  random.pick((isTasks ? TASK_DAMAGE : USER_DAMAGE)[kind])(damaged);
  return damaged;
}

/** Sets the images, keeping AWS's property order: Keys, NewImage, OldImage, SizeBytes. */
function withImages(
  dynamodb: Record<string, unknown>,
  newImage: DynamoImage | undefined,
  oldImage: DynamoImage | undefined,
): Record<string, unknown> {
  const { NewImage: _new, OldImage: _old, SizeBytes, ...head } = dynamodb;
  return {
    ...head,
    ...(newImage === undefined ? {} : { NewImage: newImage }),
    ...(oldImage === undefined ? {} : { OldImage: oldImage }),
    SizeBytes,
  };
}
