import { ConfigError, defineJob, defineTable, firehoseErrorPrefix, landingSource, quoteLiteral, type Job, type TableName, type TableSpec } from '../../core/index.ts';

/** Columns every bronze CDC table has: the raw event with a typed envelope, nothing dropped. */
function bronzeCdcTable(name: TableName, sourceTable: string): TableSpec {
  return defineTable({
    name,
    description: `Every readable change record of the DynamoDB ${sourceTable} table as it landed, one row per record, append-only.`,
    writeMode: 'append',
    partitionBy: ['ingest_date'],
    columns: [
      { name: 'event_id', type: 'VARCHAR', description: 'eventID of the change record (Kinesis may deliver one twice).' },
      { name: 'event_name', type: 'VARCHAR', description: 'INSERT, MODIFY or REMOVE.' },
      { name: 'event_ts', type: 'TIMESTAMP', description: 'ApproximateCreationDateTime as a UTC timestamp with microseconds.' },
      { name: 'table_name', type: 'VARCHAR', description: 'Source DynamoDB table (tableName, or the table in eventSourceARN).' },
      { name: 'keys', type: 'JSON', description: 'dynamodb.Keys in DynamoDB attribute-value JSON.' },
      { name: 'new_image', type: 'JSON', description: 'dynamodb.NewImage in attribute-value JSON; NULL on REMOVE.' },
      { name: 'old_image', type: 'JSON', description: 'dynamodb.OldImage in attribute-value JSON; NULL on INSERT.' },
      { name: 'size_bytes', type: 'BIGINT', description: 'dynamodb.SizeBytes.' },
      {
        name: 'sequence_number',
        type: 'VARCHAR',
        description: 'dynamodb.SequenceNumber of a DynamoDB Streams record (digits, increasing per item), zero-padded to 40 digits so text order is numeric order; NULL for Kinesis records, which have none.',
      },
      { name: 'deleted_by_ttl', type: 'BOOLEAN', description: "True for a REMOVE made by DynamoDB's TTL (userIdentity is the dynamodb.amazonaws.com service)." },
      { name: 'source_object', type: 'VARCHAR', description: 'Key of the landing object the record came from.' },
      { name: 'record_index', type: 'BIGINT', description: '0-based position of the record in that object.' },
      { name: 'ingested_at', type: 'TIMESTAMP', description: 'When the bronze run that read it started (UTC).' },
      { name: 'ingest_date', type: 'DATE', description: 'Partition: arrival date of the landing object (from its YYYY/MM/DD key folders).' },
    ],
  });
}

/** Paths cut out of every record in one parse; the envelope checks read only these. */
const ENVELOPE_PATHS = {
  eventId: '$.eventID',
  eventName: '$.eventName',
  time: '$.dynamodb.ApproximateCreationDateTime',
  precision: '$.dynamodb.ApproximateCreationDateTimePrecision',
  keys: '$.dynamodb.Keys',
  tableName: '$.tableName',
  sourceArn: '$.eventSourceARN',
  sizeBytes: '$.dynamodb.SizeBytes',
  sequenceNumber: '$.dynamodb.SequenceNumber',
  newImage: '$.dynamodb.NewImage',
  oldImage: '$.dynamodb.OldImage',
  identityType: '$.userIdentity.type',
  identityPrincipal: '$.userIdentity.principalId',
  // Firehose's error output (records it could not deliver): never data, whatever rawData holds.
  errorCode: '$.errorCode',
  errorMessage: '$.errorMessage',
  rawData: '$.rawData',
  attemptsMade: '$.attemptsMade',
} as const;
type EnvelopeField = keyof typeof ENVELOPE_PATHS;

// Values cut out by json_extract are serialized compactly, so their first character tells their JSON
// type; checking it spares parsing large images a second time. (starts_with compares bytes; left(x, 1)
// would count characters, which costs more on every record.)

/** SQL text of a JSON string value, NULL when the value is not a string. */
function jsonString(expression: string): string {
  return `CASE WHEN starts_with(${expression}, '"') THEN json_extract_string(${expression}, '$') END`;
}

/** The JSON value when it is an object, else NULL. */
function jsonObject(expression: string): string {
  return `CASE WHEN starts_with(${expression}, '{') THEN ${expression} END`;
}

/** Every landing record with its envelope fields and `reason_code` (NULL when it passes). */
function envelopesSql(landing: string, keyAttributes: readonly string[], errorPrefix: string, times: EventTimeBounds): string {
  const fields = Object.keys(ENVELOPE_PATHS) as EnvelopeField[];
  const paths = `[${fields.map((field) => quoteLiteral(ENVELOPE_PATHS[field])).join(', ')}]`;
  const field = (name: EnvelopeField) => `envelope[${fields.indexOf(name) + 1}]`;
  // The key attributes' S values in one parse of Keys: a string value is serialized compactly, so it is a
  // non-empty string when it starts with '"' and is not '""'.
  const keyPaths = `[${keyAttributes.map((key) => quoteLiteral(`$.${key}.S`)).join(', ')}]`;
  const keyPresent = (_key: string, index: number) => `coalesce(starts_with(key_values[${index + 1}], '"') AND key_values[${index + 1}] <> '""', false)`;
  const extras = `,
             coalesce(${jsonString(field('tableName'))}, regexp_extract(${jsonString(field('sourceArn'))}, ':table/([^/]+)', 1)) AS table_name,
             try_cast(${field('sizeBytes')}::VARCHAR AS BIGINT) AS size_bytes,
             ${field('sequenceNumber')} IS NOT NULL AS has_sequence_number,
             ${jsonString(field('sequenceNumber'))} AS sequence_text,
             ${jsonObject(field('keys'))} AS keys,
             ${jsonObject(field('newImage'))} AS new_image,
             ${jsonObject(field('oldImage'))} AS old_image,
             coalesce(${jsonString(field('identityType'))} = 'Service' AND ${jsonString(field('identityPrincipal'))} = 'dynamodb.amazonaws.com', false) AS ttl_identity,
             ${jsonString(field('errorCode'))} AS firehose_error_code,
             ${jsonString(field('errorMessage'))} AS firehose_error_message,
             try_cast(${field('attemptsMade')}::VARCHAR AS BIGINT) AS firehose_attempts,
             ${field('rawData')} IS NOT NULL AS has_raw_data,
             json_extract(${field('keys')}, ${keyPaths}) AS key_values`;
  return `
    WITH screened AS (
      -- DuckDB's JSON reader takes NaN and Infinity as numbers; JSON has neither, and other readers (Athena,
      -- JSON.parse) refuse such a record, so it is invalid_json here too. (Outside strings only; the CASE keeps
      -- the regular expressions off the records that cannot hold one.)
      SELECT *,
             CASE WHEN contains(raw, 'NaN') OR contains(raw, 'Infinity')
                  THEN coalesce(regexp_matches(regexp_replace(raw, '"([^"\\\\]|\\\\.)*"', '', 'g'), '\\b(NaN|Infinity)\\b'), false)
                  ELSE false END AS non_finite
      FROM ${landing}
    ), cut AS (
      SELECT source_object, record_index, raw, split_error, object_last_modified, non_finite,
             CASE WHEN split_error IS NULL AND NOT non_finite AND json_valid(raw) THEN json_extract(raw, ${paths}) END AS envelope
      FROM screened
    ), fields AS (
      SELECT source_object, record_index, raw, split_error, object_last_modified, envelope, non_finite,
             ${jsonString(field('eventId'))} AS event_id,
             ${jsonString(field('eventName'))} AS event_name,
             -- Integers stay exact as HUGEINT; only a fractional number goes through DOUBLE.
             CASE WHEN json_type(${field('time')}) IN ('UBIGINT', 'BIGINT') THEN try_cast(${field('time')}::VARCHAR AS HUGEINT) END AS time_integer,
             CASE WHEN json_type(${field('time')}) = 'DOUBLE' THEN try_cast(${field('time')}::VARCHAR AS DOUBLE) END AS time_fraction,
             ${jsonString(field('precision'))} AS time_precision${extras}
      FROM cut
    ), scaled AS (
      SELECT *,
             CASE WHEN time_precision = 'MICROSECOND' THEN 1
                  WHEN time_precision = 'MILLISECOND' THEN 1000
                  WHEN coalesce(time_integer::DOUBLE, time_fraction) > 1e14 THEN 1
                  WHEN coalesce(time_integer::DOUBLE, time_fraction) > 1e11 THEN 1000
                  ELSE 1000000 END AS micros_per_unit
      FROM fields
    ), timed AS (
      SELECT *,
             make_timestamp(try_cast(CASE
               WHEN abs(time_integer) < 1e20 THEN time_integer * micros_per_unit
               WHEN abs(time_fraction) < 1e20 THEN try_cast(round(time_fraction * micros_per_unit) AS HUGEINT)
             END AS BIGINT)) AS event_ts
      FROM scaled
    )
    SELECT * EXCLUDE (envelope, time_integer, time_fraction, micros_per_unit, has_raw_data, has_sequence_number, sequence_text, key_values),
           CASE WHEN regexp_full_match(sequence_text, '[0-9]{1,40}') THEN lpad(sequence_text, 40, '0') END AS sequence_number,
           CASE
             -- An object under the source's Firehose error prefix, or a record shaped like Firehose's error
             -- output (errorCode and rawData, no eventID), is a delivery failure, never data.
             WHEN starts_with(source_object, ${quoteLiteral(errorPrefix)}) OR (event_id IS NULL AND firehose_error_code IS NOT NULL AND has_raw_data) THEN 'firehose_error'
             WHEN split_error IS NOT NULL THEN split_error
             WHEN envelope IS NULL THEN 'invalid_json'
             -- Valid JSON that starts with '{' is an object; checking the text spares a second parse (and
             -- trimming only the records that do not start with it spares copying every record).
             WHEN CASE WHEN starts_with(raw, '{') THEN false ELSE NOT starts_with(ltrim(raw, ' ' || chr(9) || chr(10) || chr(13)), '{') END THEN 'not_an_object'
             WHEN coalesce(event_id, '') = '' THEN 'missing_event_id'
             WHEN event_name IS NULL OR event_name NOT IN ('INSERT', 'MODIFY', 'REMOVE') THEN 'unknown_event_name'
             WHEN event_ts IS NULL THEN 'missing_event_time'
             WHEN event_ts < ${times.floorSql} OR event_ts > ${times.ceilingSql} THEN 'event_time_out_of_range'
             WHEN NOT (${keyAttributes.map(keyPresent).join(' AND ')}) THEN 'missing_key'
             WHEN has_sequence_number AND NOT coalesce(regexp_full_match(sequence_text, '[0-9]{1,40}'), false) THEN 'invalid_sequence_number'
           END AS reason_code
    FROM timed`;
}

/** The event times bronze accepts: none before the floor, none later than the run's start plus the skew. */
interface EventTimeBounds {
  readonly floorSql: string;
  readonly ceilingSql: string;
  readonly describe: string;
}

/**
 * Job arguments bounding event times. An event before DynamoDB Streams existed (2014), or far in the future,
 * is a broken clock or a corrupt record: one such row would stretch every daily table over centuries.
 */
export const EVENT_TIME_ARGUMENTS = { 'event-time-floor': '2014-01-01', 'event-time-skew-hours': '24' } as const;

function eventTimeBounds(job: string, args: Readonly<Record<string, string>>, startedAt: Date): EventTimeBounds {
  const floor = args['event-time-floor'] ?? EVENT_TIME_ARGUMENTS['event-time-floor'];
  const skew = Number(args['event-time-skew-hours'] ?? EVENT_TIME_ARGUMENTS['event-time-skew-hours']);
  const problems: string[] = [];
  if (!/^\d{4}-\d{2}-\d{2}$/.test(floor) || Number.isNaN(Date.parse(`${floor}T00:00:00Z`))) problems.push(`--event-time-floor ${JSON.stringify(floor)} is not a date (YYYY-MM-DD)`);
  if (!Number.isFinite(skew) || skew < 0 || skew > 24 * 366) problems.push(`--event-time-skew-hours ${JSON.stringify(args['event-time-skew-hours'])} is not a number of hours from 0 to 8784`);
  if (problems.length > 0) throw new ConfigError('JOB_ARGUMENTS_INVALID', `${job}: ${problems.join('; ')}`, { hint: 'e.g. --event-time-floor 2014-01-01 --event-time-skew-hours 24' });
  const ceiling = new Date(startedAt.getTime() + skew * 3_600_000);
  return {
    floorSql: `TIMESTAMP ${quoteLiteral(`${floor} 00:00:00`)}`,
    ceilingSql: `make_timestamp(${ceiling.getTime() * 1000}::BIGINT)`,
    describe: `before ${floor} or more than ${skew} hours after the run started (${ceiling.toISOString()})`,
  };
}

/**
 * A bronze job for one DynamoDB source: every landing record becomes a row or a quarantine entry with
 * its reason (docs/semantics.md, "Bronze").
 */
export function cdcBronzeJob(options: { source: string; sourceTable: string; keyAttributes: readonly string[] }): { job: Job; table: TableSpec } {
  const tableName = `bronze.${options.source}_cdc` as TableName;
  const table = bronzeCdcTable(tableName, options.sourceTable);
  const job = defineJob({
    name: tableName,
    description: `Reads new Firehose objects under landing/${options.source}/ into ${tableName}; unreadable records go to quarantine.records.`,
    sources: { landing: landingSource(options.source) },
    outputs: [table],
    balance: { input: 'landing', output: tableName },
    perRecord: true,
    defaultArguments: EVENT_TIME_ARGUMENTS,
    transform: ({ input, step, startedAt, args }) => {
      const times = eventTimeBounds(tableName, args, startedAt);
      return {
      steps: [
        {
          // Parse each record once; the raw text is kept only for records that will be quarantined.
          name: 'envelopes',
          sql: `
            SELECT * EXCLUDE (raw), CASE WHEN reason_code IS NOT NULL THEN raw END AS raw
            FROM (${envelopesSql(input('landing'), options.keyAttributes, firehoseErrorPrefix(options.source), times)})`,
        },
      ],
      outputs: {
        // The arrival date is worked out once per object (a few dozen records each) and joined to its records:
        // two regular expressions on every record's key cost eight times as much. (This reads the envelopes
        // step twice, which is cheap only because that step is a table: as a view it would parse twice.)
        [tableName]: `
          WITH object_dates AS (
            SELECT source_object,
                   coalesce(
                     try_cast(regexp_replace(regexp_extract(source_object, '/(\\d{4}/\\d{2}/\\d{2})/\\d{2}/[^/]+$', 1), '/', '-', 'g') AS DATE),
                     any_value(object_last_modified)::DATE) AS ingest_date
            FROM ${step('envelopes')} WHERE reason_code IS NULL GROUP BY source_object)
          SELECT event_id, event_name, event_ts, table_name, keys, new_image, old_image, size_bytes, sequence_number,
                 event_name = 'REMOVE' AND ttl_identity AS deleted_by_ttl, source_object, record_index,
                 make_timestamp(${startedAt.getTime() * 1000}::BIGINT) AS ingested_at,
                 coalesce(object_dates.ingest_date, object_last_modified::DATE) AS ingest_date
          FROM ${step('envelopes')} LEFT JOIN object_dates USING (source_object)
          WHERE reason_code IS NULL`,
      },
      quarantine: `
        SELECT source_object, record_index, reason_code,
               CASE reason_code
                 WHEN 'firehose_error' THEN 'Firehose could not deliver the record: ' ||
                   coalesce(firehose_error_code, 'no errorCode') || coalesce(': ' || firehose_error_message, '') ||
                   coalesce(' (' || firehose_attempts || ' attempts)', '') || '; raw holds its error record, with the record base64 in rawData'
                 WHEN 'corrupt_gzip' THEN 'the rest of the object could not be decompressed: ' || raw
                 WHEN 'object_too_large' THEN raw
                 WHEN 'too_many_records' THEN raw
                 WHEN 'invalid_utf8' THEN 'the record is not valid UTF-8'
                 WHEN 'record_too_large' THEN 'the record is over 3 MiB, larger than any DynamoDB change record (raw holds its first 64 KiB)'
                 WHEN 'invalid_json' THEN 'the record is not valid JSON' || CASE WHEN non_finite THEN ' (NaN and Infinity are not JSON numbers)' ELSE '' END
                 WHEN 'not_an_object' THEN 'the record is a JSON ' ||
                   CASE json_type(raw) WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' WHEN 'ARRAY' THEN 'array' ELSE 'number' END ||
                   ', not an object'
                 WHEN 'missing_event_id' THEN 'eventID is missing or not a non-empty string'
                 WHEN 'unknown_event_name' THEN 'eventName ' || coalesce('"' || event_name || '"', 'is missing and') || ' is not INSERT, MODIFY or REMOVE'
                 WHEN 'missing_event_time' THEN 'dynamodb.ApproximateCreationDateTime is missing or not a valid epoch number'
                 WHEN 'event_time_out_of_range' THEN 'dynamodb.ApproximateCreationDateTime is ' || strftime(event_ts, '%Y-%m-%dT%H:%M:%S.%fZ') || ', ' || ${quoteLiteral(times.describe)}
                 WHEN 'invalid_sequence_number' THEN 'dynamodb.SequenceNumber is not a string of 1 to 40 digits'
                 WHEN 'missing_key' THEN 'dynamodb.Keys lacks ${options.keyAttributes.join(' or ')} as a non-empty string (S)'
               END AS reason,
               CASE WHEN reason_code IN ('corrupt_gzip', 'object_too_large', 'too_many_records') THEN '' ELSE raw END AS raw
        FROM ${step('envelopes')}
        WHERE reason_code IS NOT NULL`,
      };
    },
  });
  return { job, table };
}
