import { JobDefinitionError, defineJob, defineTable, quoteIdentifier, quoteLiteral, tableSource, type ColumnSpec, type Job, type TableName, type TableSpec } from '../../core/index.ts';
import { typeImagesSql, type AttributeRule } from './image-typing.ts';

export interface KeyColumn {
  readonly attribute: string;
  readonly column: string;
  readonly description: string;
}

export interface SilverEntity {
  /** e.g. `task`: tables `silver.task_events` and `silver.tasks`, job `silver.tasks`. */
  readonly singular: string;
  readonly plural: string;
  readonly bronzeTable: TableName;
  readonly keys: readonly KeyColumn[];
  readonly rules: readonly AttributeRule[];
  /** Column descriptions and types of the typed attributes, in rule order. */
  readonly columns: readonly ColumnSpec[];
  /**
   * When set, the current-state table is partitioned by the UTC date of this typed TIMESTAMP column (a
   * required one, such as created_at), so a run that changes a few keys rewrites only their partitions.
   * Worth it when changes cluster by that date (tasks change mostly soon after they are created); a
   * small table whose changes spread over all dates (users) is cheaper rewritten whole.
   */
  readonly partitionByDateOf?: { readonly column: string; readonly partition: string; readonly description: string };
  /**
   * What an image attribute the entity does not declare does (dlt's schema contracts): `discard_value`
   * (the default) drops it and keeps the event; `freeze` quarantines the event (`unknown_attribute`, naming
   * the attributes); `evolve` adds it as a nullable column of the three tables, typed by its DynamoDB type
   * (see EVOLVED_TYPES), NULL in rows written before; a later value of another type is quarantined.
   */
  readonly schemaContract?: 'discard_value' | 'freeze' | 'evolve';
}

const EVENT_METADATA: readonly ColumnSpec[] = [
  {
    name: '_sequence_number',
    type: 'VARCHAR',
    description: 'SequenceNumber of a DynamoDB Streams record, 40 digits (orders events of one key with the same event_ts); NULL for Kinesis records.',
  },
  { name: '_source_object', type: 'VARCHAR', description: 'Landing object the event came from.' },
  { name: '_record_index', type: 'BIGINT', description: 'Position of the event in that object.' },
];

/**
 * The silver tables of one DynamoDB entity and the job that builds them (docs/semantics.md, "Silver"):
 * effective events (deduplicated by event_id, typed) and current state per key.
 */
export function cdcSilverJob(entity: SilverEntity): { job: Job; eventsTable: TableSpec; currentTable: TableSpec; historyTable: TableSpec } {
  const keyColumns: ColumnSpec[] = entity.keys.map((key) => ({ name: key.column, type: 'VARCHAR', description: key.description }));
  const eventsName = `silver.${entity.singular}_events` as TableName;
  const currentName = `silver.${entity.plural}` as TableName;
  const eventsTable = defineTable({
    name: eventsName,
    description: `One typed row per effective ${entity.singular} change event: deduplicated by event_id, image typed; events that fail typing are quarantined.`,
    writeMode: 'replace_partitions',
    partitionBy: ['event_date'],
    columns: [
      { name: 'event_id', type: 'VARCHAR', description: 'eventID; unique in this table.' },
      { name: 'event_name', type: 'VARCHAR', description: 'INSERT, MODIFY or REMOVE.' },
      { name: 'event_ts', type: 'TIMESTAMP', description: 'When the change happened (UTC, microseconds).' },
      { name: 'deleted_by_ttl', type: 'BOOLEAN', description: "True for a REMOVE made by DynamoDB's TTL rather than by the application." },
      ...keyColumns,
      ...entity.columns.map((column) => ({ ...column, description: `${column.description} From the new image; NULL on REMOVE.` })),
      ...EVENT_METADATA,
      { name: 'event_date', type: 'DATE', description: 'Partition: the UTC date of event_ts.' },
    ],
  });
  const currentTable = defineTable({
    name: currentName,
    description: `Current state of every ${entity.singular}: the image of its last effective event in event order (event_ts, sequence number, source object, record index); deleted keys are absent.`,
    writeMode: 'replace_partitions',
    partitionBy: entity.partitionByDateOf ? [entity.partitionByDateOf.partition] : [],
    columns: [
      ...keyColumns,
      ...entity.columns,
      { name: '_event_id', type: 'VARCHAR', description: 'Event that produced this state.' },
      { name: '_event_ts', type: 'TIMESTAMP', description: 'Time of that event.' },
      ...EVENT_METADATA,
      ...(entity.partitionByDateOf ? [{ name: entity.partitionByDateOf.partition, type: 'DATE', description: entity.partitionByDateOf.description }] : []),
    ],
  });

  const historyName = `silver.${entity.plural}_history` as TableName;
  const historyTable = defineTable({
    name: historyName,
    description:
      `Every version of every ${entity.singular} (slowly changing dimension, type 2): one row per effective event, valid from its ` +
      `event_ts until the next event of the key in event order; a REMOVE makes a deleted version. The same whatever order the files arrived in.`,
    writeMode: 'replace_partitions',
    // Like the current state: a key's versions sit together (by the day the key was created), so a run that
    // changes a few keys rewrites their days only. Unpartitioned when the current state is.
    partitionBy: entity.partitionByDateOf ? [entity.partitionByDateOf.partition] : [],
    columns: [
      ...keyColumns,
      ...entity.columns.map((column) => ({ ...column, description: `${column.description} NULL in a deleted version.` })),
      { name: 'is_deleted', type: 'BOOLEAN', description: `True for a version made by a REMOVE: the ${entity.singular} did not exist then.` },
      { name: 'is_current', type: 'BOOLEAN', description: 'True for the last version of the key (valid_to is NULL).' },
      { name: 'valid_from', type: 'TIMESTAMP', description: 'event_ts of the event that made this version (UTC).' },
      { name: 'valid_to', type: 'TIMESTAMP', description: 'event_ts of the next event of the key in event order; NULL while current.' },
      { name: '_event_id', type: 'VARCHAR', description: 'The event that made this version.' },
      { name: '_event_name', type: 'VARCHAR', description: 'Its eventName: INSERT, MODIFY or REMOVE.' },
      ...EVENT_METADATA,
      ...(entity.partitionByDateOf
        ? [{
            name: entity.partitionByDateOf.partition,
            type: 'DATE',
            description: `${entity.partitionByDateOf.description} A deleted version is in the partition of the version before it.`,
          }]
        : []),
    ],
  });

  const keyNames = entity.keys.map((key) => quoteIdentifier(key.column));
  const keyExtraction = entity.keys.map((key) => `json_extract_string(keys, ${quoteLiteral(`$.${key.attribute}.S`)}) AS ${quoteIdentifier(key.column)}`).join(', ');
  const declaredColumns = entity.columns.map((column) => quoteIdentifier(column.name));
  // Event order (docs/semantics.md): DynamoDB Streams records carry seconds, so events of one key in the same
  // second are ordered by their SequenceNumber; Kinesis records have none (NULL sorts after any).
  const eventOrder = 'event_ts, sequence_number, source_object, record_index';
  const partition = entity.partitionByDateOf ? quoteIdentifier(entity.partitionByDateOf.partition) : undefined;
  const partitionValue = entity.partitionByDateOf ? `, ${quoteIdentifier(entity.partitionByDateOf.column)}::DATE AS ${partition}` : '';

  const job = defineJob({
    name: `silver.${entity.plural}`,
    description: `Deduplicates and types ${entity.bronzeTable} into ${eventsName}, and folds the events into ${currentName}.`,
    sources: { bronze: tableSource(entity.bronzeTable) },
    outputs: [eventsTable, currentTable, historyTable],
    // Current state and history are folded from the effective events (see gateAt in the plan).
    derivedOutputs: { [currentName]: eventsName, [historyName]: eventsName },
    balance: { input: 'bronze', output: eventsName },
    incremental: true,
    transform: ({ mode, input, step, delta, beforeMatching, previous, columns }) => {
      // Attributes schema evolution added (origin dynamodb:<type>:<attribute>), typed like declared ones.
      const evolved = columns(eventsName).flatMap((column) => {
        const match = /^dynamodb:([A-Z]+):(.+)$/.exec(column.origin ?? '');
        return match ? [{ column: column.name, tag: match[1] as string, attribute: match[2] as string }] : [];
      });
      const rules: AttributeRule[] = [
        ...entity.rules,
        ...evolved.map((entry): AttributeRule => ({ attribute: entry.attribute, column: entry.column, required: false, kind: EVOLVED_KINDS[entry.tag] ?? { type: 'json' } })),
      ];
      const typedColumns = [...declaredColumns, ...evolved.map((entry) => quoteIdentifier(entry.column))];
      const knownAttributes = [...rules.map((rule) => rule.attribute), ...entity.keys.map((key) => key.attribute)];
      const keyList = keyNames.join(', ');
      // What a copy of an event says: two copies of one eventID that say different things are a conflict, not a
      // duplicate. Compared within a run only, so a 64-bit hash does (half the cost of an md5 of the text).
      const content = `hash(event_name, event_ts, keys::VARCHAR, new_image::VARCHAR, sequence_number)`;
      const bronzeColumns = `event_id, event_name, event_ts, deleted_by_ttl, keys, new_image, sequence_number, source_object, record_index, ${keyExtraction}, ${content} AS content`;
      const conflicting = 'copy_rank > 1 AND content <> first_content';
      // Incremental: the bronze rows read before that share an event_id with a new row, and the first of
      // them in copy order (source object, record index).
      const seen = () => `
        SELECT event_id, min({'o': source_object, 'i': record_index}) AS first_seen,
               arg_min(${content}, {'o': source_object, 'i': record_index}) AS first_content
        FROM ${beforeMatching('bronze', 'event_id', `SELECT event_id FROM ${delta('bronze')}`)}
        GROUP BY event_id`;
      // Which bronze rows to type, each with its rank among the copies of its event (1 = the first copy).
      const ranked =
        mode === 'full'
          ? // Ranking every row sorts whole rows, images included: at 10M events that sort spills gigabytes. Only
            // the rows whose event_id hash occurs more than once can be copies; they alone are ranked (a hash
            // collision only sends two distinct events to the exact ranking, which partitions by event_id).
            `(WITH bronze_rows AS NOT MATERIALIZED (SELECT ${bronzeColumns} FROM ${input('bronze')}),
                   repeated AS (SELECT hash(event_id) AS event_hash FROM ${input('bronze')} GROUP BY ALL HAVING count(*) > 1)
              SELECT *, 1::BIGINT AS copy_rank, content AS first_content
              FROM bronze_rows WHERE hash(event_id) NOT IN (SELECT event_hash FROM repeated)
              UNION ALL
              SELECT *, row_number() OVER copies AS copy_rank, first_value(content) OVER copies AS first_content
              FROM bronze_rows WHERE hash(event_id) IN (SELECT event_hash FROM repeated)
              WINDOW copies AS (PARTITION BY event_id ORDER BY source_object, record_index))`
          : // A new row whose event was read before is a duplicate of that earlier first copy.
            `(SELECT fresh.* EXCLUDE (first_in_delta), CASE WHEN seen.event_id IS NULL THEN fresh.rank_in_delta ELSE 2 END AS copy_rank,
                     coalesce(seen.first_content, fresh.first_in_delta) AS first_content
              FROM (SELECT *, row_number() OVER copies AS rank_in_delta, first_value(content) OVER copies AS first_in_delta
                    FROM (SELECT ${bronzeColumns} FROM ${delta('bronze')})
                    WINDOW copies AS (PARTITION BY event_id ORDER BY source_object, record_index)) AS fresh
              LEFT JOIN ${step('seen')} AS seen ON seen.event_id = fresh.event_id)`;
      // The effective events (silver.task_events' rows) are a step of their own, the one current state and
      // history are made from: the events table's quarantine rules apply there (gateAt), so an event they set
      // aside is in none of the three tables.
      // __typed_row names the typed row an event is (rowid: the typed step is a table; a gate that makes this step a
      // table keeps the column), so a full run's history can sort narrow rows and take the rest back by it. It is
      // not a column of the events table (nor of any attribute: two underscores keep these step columns apart).
      const eventsSql = `
        SELECT rowid AS __typed_row, event_id, event_name, event_ts, deleted_by_ttl, ${keyList}, ${typedColumns.join(', ')},
               sequence_number AS _sequence_number, source_object AS _source_object, record_index AS _record_index, event_ts::DATE AS event_date
        FROM ${step('typed')} WHERE copy_rank = 1 AND reason_code IS NULL`;
      const effective = `SELECT *, _sequence_number AS sequence_number, _source_object AS source_object, _record_index AS record_index FROM ${step('events')}`;
      // History: each effective event opens a version of its key that lasts until the key's next event in
      // event order; a key's state is its current version unless that is a deletion. Incremental: only keys
      // with new events change, and their versions are recomputed from all their events.
      // A version's partition: the key's creation day (a REMOVE has no image: the version before it decides).
      const keyOrder = `WINDOW key_order AS (PARTITION BY ${keyList} ORDER BY ${eventOrder})`;
      const createdSoFar = entity.partitionByDateOf
        ? `last_value(${quoteIdentifier(entity.partitionByDateOf.column)} IGNORE NULLS) OVER (key_order ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`
        : '';
      // A version's columns, given the event_ts of the key's next event (`next`) and, partitioned, the key's
      // creation time up to this event (`created`).
      const versionColumns = (next: string, created: string) => `
        ${keyList}, ${typedColumns.join(', ')}, event_name = 'REMOVE' AS is_deleted,
        ${next} IS NULL AS is_current, event_ts AS valid_from, ${next} AS valid_to,
        event_id AS _event_id, event_name AS _event_name, sequence_number AS _sequence_number,
        source_object AS _source_object, record_index AS _record_index
        ${entity.partitionByDateOf ? `, coalesce(${quoteIdentifier(entity.partitionByDateOf.column)}, ${created})::DATE AS ${partition}` : ''}`;
      const versions = (events: string) => `SELECT ${versionColumns('lead(event_ts) OVER key_order', createdSoFar)} FROM (${events}) ${keyOrder}`;
      // Full run: the window sorts only what it needs (typed row, key, event order, creation time), and the
      // versions take their other columns back by typed row (a BIGINT join: by event_id it cost 15 s more at
      // 10M). Sorting whole rows instead spilled them: at 10M events the window and the two writes from it
      // took 44 s in silver.tasks, 33 s this way; at 1M the job went from 7.1 to 6.3 s. history_all is a view, so
      // the current state's write and the history's each join again: keeping the joined rows as a table spilled
      // them, and was slower (27 s against 18 s for the join and both writes, measured alone at 10M).
      const fullHistorySteps = () => [
        {
          name: 'version_order',
          sql: `SELECT __typed_row, lead(event_ts) OVER key_order AS __next_ts${createdSoFar ? `, ${createdSoFar} AS __created_so_far` : ''} FROM (${effective}) ${keyOrder}`,
        },
        { name: 'history_all', view: true, sql: `SELECT ${versionColumns('__next_ts', '__created_so_far')} FROM (${effective}) JOIN ${step('version_order')} USING (__typed_row)` },
      ];
      const eventColumns = `${keyList}, ${typedColumns.join(', ')}, event_id, event_name, event_ts`;
      const stateFromHistory = `${keyList}, ${typedColumns.join(', ')}, _event_id, valid_from AS _event_ts, _sequence_number, _source_object, _record_index${partitionValue}`;
      const incrementalSteps = () => [
        { name: 'touched', sql: `SELECT DISTINCT ${keyList} FROM (${effective})` },
        // The touched keys' versions as committed: one per effective event read before (a version carries its
        // event's columns), so one scan of the history serves both their events and the partitions they were in.
        { name: 'previous_versions', sql: `SELECT * FROM ${previous(historyName)} SEMI JOIN ${step('touched')} USING (${keyList})` },
        {
          name: 'history_touched',
          sql: versions(`
            SELECT ${eventColumns}, sequence_number, source_object, record_index FROM (${effective})
            UNION ALL
            SELECT ${keyList}, ${typedColumns.join(', ')}, _event_id, _event_name, valid_from, _sequence_number, _source_object, _record_index
            FROM ${step('previous_versions')}`),
        },
        // A touched key's state is its current version, unless that is a deletion.
        { name: 'refolded', sql: `SELECT ${stateFromHistory} FROM ${step('history_touched')} WHERE is_current AND NOT is_deleted` },
        ...(partition
          ? [{
              name: 'history_rewritten',
              sql: `SELECT DISTINCT ${partition} FROM ${step('previous_versions')}
                    UNION SELECT DISTINCT ${partition} FROM ${step('history_touched')}`,
            }]
          : []),
        // Partitioned: the partitions the touched keys were in and the ones they land in are rewritten.
        ...(partition
          ? [{
              name: 'rewritten',
              sql: `SELECT DISTINCT ${partition} FROM ${previous(currentName)} SEMI JOIN ${step('touched')} USING (${keyList})
                    UNION SELECT DISTINCT ${partition} FROM ${step('refolded')}`,
            }]
          : []),
      ];
      const untouched = () =>
        partition
          ? `(SELECT * FROM ${previous(currentName)} WHERE ${partition} IN (SELECT ${partition} FROM ${step('rewritten')}))`
          : previous(currentName);
      const history =
        mode === 'full'
          ? `SELECT * FROM ${step('history_all')}`
          : // A touched key's versions are recomputed from all its events; the partitions they were in or land in
            // are rewritten, with the versions of other keys in them as they were.
            `SELECT * FROM ${step('history_touched')}
             UNION ALL BY NAME
             SELECT kept.* FROM (SELECT * FROM ${previous(historyName)} AS h${
               // NULL-safe: a version whose key's first event was a delete has no creation day yet (partition NULL).
               partition ? ` SEMI JOIN ${step('history_rewritten')} AS r ON h.${partition} IS NOT DISTINCT FROM r.${partition}` : ''
             }) AS kept
             ANTI JOIN ${step('touched')} USING (${keyList})`;
      // The current state is the current versions that are not deletions: one sort of the events serves both.
      const current =
        mode === 'full'
          ? `SELECT ${stateFromHistory} FROM ${step('history_all')} WHERE is_current AND NOT is_deleted`
          : `SELECT * FROM ${step('refolded')}
             UNION ALL BY NAME
             SELECT * FROM ${untouched()} ANTI JOIN ${step('touched')} USING (${keyList})`;
      return {
        steps: [
          ...(mode === 'incremental' ? [{ name: 'seen', sql: seen() }] : []),
          ...(entity.schemaContract === 'evolve' ? [{ name: 'discovered', sql: discoverySql(ranked, knownAttributes) }] : []),
          {
            name: 'typed',
            // Images are kept only for events that will be quarantined (as their raw text).
            sql: `
              SELECT * EXCLUDE (keys, new_image),
                     CASE WHEN reason_code IS NOT NULL OR (${conflicting}) THEN keys END AS keys,
                     CASE WHEN reason_code IS NOT NULL OR (${conflicting}) THEN new_image END AS new_image
              FROM (${typeImagesSql(ranked, rules, entity.schemaContract === 'freeze' ? { frozen: { otherAttributes: entity.keys.map((key) => key.attribute) } } : {})})`,
          },
          // A filter of the typed events: a view, so they are not copied once more (at 10M events, 9 s of spilling).
          { name: 'events', sql: eventsSql, view: true },
          ...(mode === 'incremental'
            ? incrementalSteps()
            : fullHistorySteps()),
        ],
        gateAt: { [eventsName]: 'events' },
        // Typed in runs of the bronze files (row groups, in no set order), which bronze writes in landing time
        // order: nearly by event day.
        clustered: [eventsName],
        outputs: {
          [eventsName]: `SELECT * EXCLUDE (__typed_row) FROM ${step('events')}`,
          [currentName]: current,
          [historyName]: history,
        },
        quarantine: `
          SELECT source_object, record_index, reason_code, reason,
                 json_object('event_id', event_id, 'event_name', event_name, 'event_ts', event_ts::VARCHAR, 'keys', keys, 'new_image', new_image)::VARCHAR AS raw
          FROM ${step('typed')}
          WHERE copy_rank = 1 AND reason_code IS NOT NULL
          UNION ALL
          -- A later copy of an eventID that says something else than the first: kept here with its difference, never applied.
          SELECT source_object, record_index, 'conflicting_duplicate' AS reason_code,
                 'eventID ' || event_id || ' was read before with different content (name, time, keys or image); the first copy is the event, this one is kept here' AS reason,
                 json_object('event_id', event_id, 'event_name', event_name, 'event_ts', event_ts::VARCHAR, 'keys', keys, 'new_image', new_image)::VARCHAR AS raw
          FROM ${step('typed')}
          WHERE ${conflicting}`,
        duplicates: `SELECT event_id FROM ${step('typed')} WHERE copy_rank > 1 AND NOT (${conflicting})`,
        ...(entity.schemaContract === 'evolve'
          ? { evolve: Object.fromEntries([eventsName, currentName, historyName].map((table) => [table, `SELECT * FROM ${step('discovered')}`])) }
          : {}),
        ...(mode === 'incremental'
          ? {
              appendTo: [eventsName],
              replacePartitions: {
                ...(partition ? { [currentName]: `SELECT ${partition} FROM ${step('rewritten')}` } : {}),
                ...(partition ? { [historyName]: `SELECT ${partition} FROM ${step('history_rewritten')}` } : {}),
              },
              // A new copy that sorts before the copy read earlier would become the first copy: recompute in full.
              needsFullRun: `
                SELECT 1 FROM (SELECT event_id, min({'o': source_object, 'i': record_index}) AS first_new FROM ${delta('bronze')} GROUP BY event_id) AS fresh
                JOIN ${step('seen')} AS seen USING (event_id)
                WHERE fresh.first_new < seen.first_seen`,
            }
          : {}),
      };
    },
  });
  return { job, eventsTable, currentTable, historyTable };
}

/** How an attribute added by schema evolution is typed, by its DynamoDB type. */
const EVOLVED_KINDS: Readonly<Record<string, AttributeRule['kind']>> = {
  S: { type: 'string' },
  N: { type: 'number' },
  BOOL: { type: 'boolean' },
  B: { type: 'binary' },
  SS: { type: 'string_set' },
  NS: { type: 'number_set' },
  BS: { type: 'binary_set' },
  M: { type: 'json' },
  L: { type: 'json' },
};
const EVOLVED_TYPES: Readonly<Record<string, string>> = {
  S: 'VARCHAR', N: 'VARCHAR', BOOL: 'BOOLEAN', B: 'BLOB', SS: 'VARCHAR[]', NS: 'VARCHAR[]', BS: 'BLOB[]', M: 'JSON', L: 'JSON',
};

/**
 * Image attributes nobody declared, with the DynamoDB type of their first occurrence (in copy order), as
 * columns to add: name (the attribute in snake_case), DuckDB type (numbers as exact text), origin and a
 * description. `{"NULL": true}` tells no type, so such an attribute waits for a typed value.
 */
function discoverySql(ranked: string, known: readonly string[]): string {
  const typeOf = `CASE tag ${Object.entries(EVOLVED_TYPES).map(([tag, type]) => `WHEN ${quoteLiteral(tag)} THEN ${quoteLiteral(type)}`).join(' ')} END`;
  return `
    WITH attributes AS (
      SELECT attribute, arg_min(tag, {'o': source_object, 'i': record_index}) AS tag
      FROM (
        SELECT source_object, record_index, attribute,
               json_keys(json_extract(new_image, '/' || replace(replace(attribute, '~', '~0'), '/', '~1')))[1] AS tag
        FROM (SELECT source_object, record_index, new_image, unnest(json_keys(new_image)) AS attribute
              FROM ${ranked} WHERE event_name <> 'REMOVE' AND json_type(new_image) = 'OBJECT')
      )
      WHERE attribute NOT IN (${known.map(quoteLiteral).join(', ')}) AND tag IN (${Object.keys(EVOLVED_TYPES).map(quoteLiteral).join(', ')})
      GROUP BY attribute
    ), named AS (
      SELECT attribute, tag,
             regexp_replace(lower(regexp_replace(attribute, '([a-z0-9])([A-Z])', '\\1_\\2', 'g')), '[^a-z0-9_]', '_', 'g') AS snake
      FROM attributes
    )
    SELECT CASE WHEN regexp_full_match(snake, '[a-z][a-z0-9_]*') THEN snake ELSE 'a_' || snake END AS name,
           ${typeOf} AS type,
           'dynamodb:' || tag || ':' || attribute AS origin,
           'Attribute ' || attribute || ' (DynamoDB type ' || tag || '), added by schema evolution; NULL before it first appeared.' AS description
    FROM named ORDER BY attribute`;
}
