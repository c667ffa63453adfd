import { defineJob, defineTable, landingSource, quoteLiteral, type Job, type TableName, type TableSpec } from '../../core/index.ts';

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
      { name: 'source_object', type: 'VARCHAR', description: 'Key of the landing object the record came from.' },
      { name: 'record_index', type: 'BIGINT', description: '0-based position of the record in that object.' },
      { name: 'ingested_at', type: 'TIMESTAMP', description: 'When the bronze run that read it started (UTC).' },
      { name: 'ingest_date', type: 'DATE', description: 'Partition: arrival date of the landing object (from its YYYY/MM/DD key folders).' },
    ],
  });
}

const ENVELOPE_STRUCTURE = JSON.stringify({
  eventID: 'JSON',
  eventName: 'JSON',
  tableName: 'JSON',
  eventSourceARN: 'JSON',
  dynamodb: {
    ApproximateCreationDateTime: 'JSON',
    ApproximateCreationDateTimePrecision: 'JSON',
    Keys: 'JSON',
    NewImage: 'JSON',
    OldImage: 'JSON',
    SizeBytes: 'JSON',
  },
});

/** SQL text of a JSON string value, NULL when the value is not a string. */
function jsonString(expression: string): string {
  return `CASE WHEN json_type(${expression}) = 'VARCHAR' THEN json_extract_string(${expression}, '$') END`;
}

/**
 * A bronze job for one DynamoDB source: every landing record becomes a row or a quarantine entry with
 * its reason (docs/semantics.md, "Bronze").
 */
export function cdcBronzeJob(options: { source: string; sourceTable: string; keyAttributes: readonly string[] }): { job: Job; table: TableSpec } {
  const tableName = `bronze.${options.source}_cdc` as TableName;
  const table = bronzeCdcTable(tableName, options.sourceTable);
  const keysPresent = options.keyAttributes
    .map((key) => `coalesce(json_type(keys, ${quoteLiteral(`$.${key}.S`)}) = 'VARCHAR' AND json_extract_string(keys, ${quoteLiteral(`$.${key}.S`)}) <> '', false)`)
    .join(' AND ');
  const job = defineJob({
    name: tableName,
    description: `Reads new Firehose objects under landing/${options.source}/ into ${tableName}; unreadable records go to quarantine.records.`,
    sources: { landing: landingSource(options.source) },
    outputs: [table],
    balance: { input: 'landing', output: tableName },
    transform: ({ input, step, startedAt }) => ({
      steps: [
        {
          name: 'envelopes',
          sql: `
            WITH parsed AS (
              SELECT source_object, record_index, raw, split_error, object_last_modified,
                     CASE WHEN split_error IS NULL AND json_valid(raw) THEN raw::JSON END AS doc
              FROM ${input('landing')}
            ), fields AS (
              SELECT *, json_type(doc) AS doc_type,
                     CASE WHEN json_type(doc) = 'OBJECT' THEN from_json(doc, ${quoteLiteral(ENVELOPE_STRUCTURE)}) END AS envelope
              FROM parsed
            ), envelopes AS (
              SELECT source_object, record_index, raw, split_error, doc, doc_type, object_last_modified,
                     ${jsonString('envelope.eventID')} AS event_id,
                     ${jsonString('envelope.eventName')} AS event_name,
                     coalesce(${jsonString('envelope.tableName')}, regexp_extract(${jsonString('envelope.eventSourceARN')}, ':table/([^/]+)', 1)) AS table_name,
                     envelope.dynamodb.ApproximateCreationDateTime AS time_value,
                     ${jsonString('envelope.dynamodb.ApproximateCreationDateTimePrecision')} AS time_precision,
                     CASE WHEN json_type(envelope.dynamodb.Keys) = 'OBJECT' THEN envelope.dynamodb.Keys END AS keys,
                     CASE WHEN json_type(envelope.dynamodb.NewImage) = 'OBJECT' THEN envelope.dynamodb.NewImage END AS new_image,
                     CASE WHEN json_type(envelope.dynamodb.OldImage) = 'OBJECT' THEN envelope.dynamodb.OldImage END AS old_image,
                     try_cast(envelope.dynamodb.SizeBytes::VARCHAR AS BIGINT) AS size_bytes
              FROM fields
            ), timed AS (
              SELECT *,
                     CASE WHEN json_type(time_value) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN try_cast(time_value::VARCHAR AS DECIMAL(38, 6)) END AS time_number
              FROM envelopes
            )
            SELECT *,
                   try(make_timestamp(CAST(round(time_number * CASE
                         WHEN time_precision = 'MICROSECOND' THEN 1
                         WHEN time_precision = 'MILLISECOND' THEN 1000
                         WHEN time_number > 1e14 THEN 1
                         WHEN time_number > 1e11 THEN 1000
                         ELSE 1000000 END) AS BIGINT))) AS event_ts,
                   CASE
                     WHEN split_error IS NOT NULL THEN split_error
                     WHEN doc IS NULL THEN 'invalid_json'
                     WHEN doc_type <> 'OBJECT' THEN 'not_an_object'
                     WHEN coalesce(event_id, '') = '' THEN 'missing_event_id'
                     WHEN event_name IS NULL OR event_name NOT IN ('INSERT', 'MODIFY', 'REMOVE') THEN 'unknown_event_name'
                     WHEN time_number IS NULL THEN 'missing_event_time'
                     WHEN NOT (${keysPresent}) THEN 'missing_key'
                   END AS reason_code
            FROM timed`,
        },
      ],
      outputs: {
        [tableName]: `
          SELECT event_id, event_name, event_ts, table_name, keys, new_image, old_image, size_bytes, source_object, record_index,
                 make_timestamp(${startedAt.getTime() * 1000}::BIGINT) AS ingested_at,
                 coalesce(
                   try_cast(regexp_replace(regexp_extract(source_object, '/(\\d{4}/\\d{2}/\\d{2})/\\d{2}/[^/]+$', 1), '/', '-', 'g') AS DATE),
                   object_last_modified::DATE) AS ingest_date
          FROM ${step('envelopes')}
          WHERE reason_code IS NULL AND event_ts IS NOT NULL`,
      },
      quarantine: `
        SELECT source_object, record_index, coalesce(reason_code, 'missing_event_time') AS reason_code,
               CASE coalesce(reason_code, 'missing_event_time')
                 WHEN 'corrupt_gzip' THEN 'the rest of the object could not be decompressed: ' || raw
                 WHEN 'invalid_utf8' THEN 'the record is not valid UTF-8'
                 WHEN 'invalid_json' THEN 'the record is not valid JSON'
                 WHEN 'not_an_object' THEN 'the record is a JSON ' || lower(doc_type) || ', not an object'
                 WHEN 'missing_event_id' THEN 'eventID is missing or not a non-empty string'
                 WHEN 'unknown_event_name' THEN 'eventName ' || coalesce('"' || event_name || '"', 'is missing and') || ' is not INSERT, MODIFY or REMOVE'
                 WHEN 'missing_event_time' THEN 'dynamodb.ApproximateCreationDateTime is missing or not a valid epoch number'
                 WHEN 'missing_key' THEN 'dynamodb.Keys lacks ${options.keyAttributes.join(' or ')} as a non-empty string (S)'
               END AS reason,
               CASE WHEN reason_code = 'corrupt_gzip' THEN '' ELSE raw END AS raw
        FROM ${step('envelopes')}
        WHERE reason_code IS NOT NULL OR event_ts IS NULL`,
    }),
  });
  return { job, table };
}
