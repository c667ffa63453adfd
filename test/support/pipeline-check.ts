import { expect } from 'vitest';
import { openLocalLake, runJob, type JobRunResult, type Lake } from '../../core/index.ts';
import { attachTables } from '../../core/catalog/index.ts';
import { literalList, type ResultRow } from '../../core/engine/index.ts';
import { orderJobs } from '../../core/runner/index.ts';
import { fileSchema, manifestFiles, type TableManifest } from '../../core/table/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { computeExpected, dateOfUs, type Expected } from './oracle.ts';

/** Runs every job of the reference pipeline over the lake folder, in dependency order. */
export async function runPipeline(lakeDir: string): Promise<{ lake: Lake; results: JobRunResult[] }> {
  const lake = openLocalLake(lakeDir, { threads: 2 });
  const results: JobRunResult[] = [];
  for (const job of orderJobs(PIPELINE_JOBS)) results.push(await runJob(lake, job));
  return { lake, results };
}

/**
 * Every committed file whose manifest says it holds the table's columns does: its Parquet footer's column names
 * and types (partition columns left out) are the declared ones, in order. Readers rely on it to skip the footers,
 * and it catches a declared type Parquet cannot keep (DuckDB writes a HUGEINT column as a DOUBLE). Returns how
 * many files were checked.
 */
export async function expectFilesHoldRecordedSchemas(lake: Lake): Promise<number> {
  const root = await lake.state.readRoot();
  const engine = await lake.createEngine();
  let checked = 0;
  try {
    for (const [table, ref] of Object.entries(root.tables)) {
      const manifest = await lake.state.getDocument<TableManifest>(ref.manifest);
      const declared = manifest.columns.filter((column) => !manifest.partitionBy.includes(column.name)).map(({ name, type }) => ({ name, type }));
      const files = manifestFiles(manifest).filter((file) => file.rows > 0 && file.schema === fileSchema(declared, []));
      const local = await lake.storage.fetchLocal(files.map((file) => file.key));
      try {
        for (const file of files) {
          const { rows } = await engine.query(`DESCRIBE SELECT * FROM read_parquet(${literalList([local.paths.get(file.key) as string])}, hive_partitioning = false)`);
          expect(rows.map((row) => ({ name: String(row.column_name), type: String(row.column_type) })), `${table}: ${file.key}`).toEqual(declared);
          checked += 1;
        }
      } finally {
        await local.release();
      }
    }
  } finally {
    engine.close();
  }
  return checked;
}

/** Rows of a SQL query over the committed tables. */
export async function queryLake(lake: Lake, sql: string): Promise<ResultRow[]> {
  const engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, await lake.state.readRoot());
  try {
    return [...(await engine.query(sql)).rows];
  } finally {
    await attached.release();
    engine.close();
  }
}

/** Every committed pipeline table as sorted rows, leaving out only ingested_at (the time a bronze run read a record). */
export async function tableContents(lake: Lake): Promise<Record<string, unknown[]>> {
  const tables = [
    'bronze.tasks_cdc', 'bronze.users_cdc', 'silver.task_events', 'silver.tasks', 'silver.tasks_history', 'silver.user_events', 'silver.users',
    'silver.users_history', 'gold.daily_task_kpis', 'gold.active_users', 'gold.user_kpis',
  ];
  const contents: Record<string, unknown[]> = {};
  for (const table of tables) {
    const exclude = table.startsWith('bronze.') ? ' EXCLUDE (ingested_at)' : '';
    contents[table] = await queryLake(lake, `SELECT *${exclude} FROM ${table} ORDER BY ALL`);
  }
  contents['quarantine.records'] = await queryLake(lake, 'SELECT job, source_object, record_index, reason_code, raw FROM quarantine.records ORDER BY ALL');
  return contents;
}

const us = (value: bigint | null): string | null => (value === null ? null : value.toString());

/**
 * Runs the pipeline on the lake and checks every bronze, silver, quarantine and gold row against the
 * independent oracle computed from the same landing files.
 */
export async function expectPipelineMatchesOracle(lakeDir: string): Promise<{ expected: Expected; results: JobRunResult[]; lake: Lake }> {
  const expected = await computeExpected(lakeDir);
  const { lake, results } = await runPipeline(lakeDir);

  for (const source of ['tasks', 'users'] as const) {
    const bronze = await queryLake(
      lake,
      `SELECT event_id, event_name, epoch_us(event_ts)::VARCHAR AS ts, source_object, record_index, ingest_date::VARCHAR AS ingest_date, table_name, size_bytes, deleted_by_ttl, sequence_number
       FROM bronze.${source}_cdc ORDER BY source_object, record_index`,
    );
    expect(bronze, `bronze.${source}_cdc rows`).toEqual(
      expected.bronze[source].table.map((row) => ({
        event_id: row.event_id, event_name: row.event_name, ts: us(row.event_ts_us), source_object: row.source_object,
        record_index: row.record_index, ingest_date: row.ingest_date, table_name: row.table_name, size_bytes: row.size_bytes,
        deleted_by_ttl: row.deleted_by_ttl, sequence_number: row.sequence_number,
      })),
    );
    const bronzeQuarantine = await queryLake(
      lake,
      `SELECT source_object, record_index, reason_code FROM quarantine.records WHERE job = 'bronze.${source}_cdc' ORDER BY source_object, record_index`,
    );
    expect(bronzeQuarantine, `bronze.${source}_cdc quarantine`).toEqual(
      expected.bronze[source].quarantine.map((row) => ({ source_object: row.source_object, record_index: row.record_index, reason_code: row.reason })),
    );
    const silverQuarantine = await queryLake(
      lake,
      `SELECT source_object, record_index, reason_code FROM quarantine.records WHERE job = 'silver.${source}' ORDER BY source_object, record_index`,
    );
    expect(silverQuarantine, `silver.${source} quarantine`).toEqual(
      expected.silver[source].quarantine.map((row) => ({ source_object: row.source_object, record_index: row.record_index, reason_code: row.reason })),
    );
  }

  const taskColumns = `user_id, task_id, title, status, priority, due_date::VARCHAR AS due_date, tags,
    epoch_us(created_at)::VARCHAR AS created_at, epoch_us(updated_at)::VARCHAR AS updated_at, epoch_us(completed_at)::VARCHAR AS completed_at`;
  const taskValues = (row: Expected['silver']['tasks']['events'][number]) => ({
    user_id: row.user_id, task_id: row.task_id, title: row.title, status: row.status, priority: row.priority, due_date: row.due_date,
    tags: row.tags, created_at: us(row.created_at), updated_at: us(row.updated_at), completed_at: us(row.completed_at),
  });
  const taskEvents = await queryLake(
    lake,
    `SELECT event_id, event_name, epoch_us(event_ts)::VARCHAR AS ts, event_date::VARCHAR AS event_date, deleted_by_ttl, ${taskColumns}, _sequence_number, _source_object, _record_index
     FROM silver.task_events ORDER BY _source_object, _record_index`,
  );
  expect(taskEvents, 'silver.task_events').toEqual(
    expected.silver.tasks.events.map((row) => ({
      event_id: row.event_id, event_name: row.event_name, ts: us(row.event_ts_us), event_date: row.event_date, deleted_by_ttl: row.deleted_by_ttl, ...taskValues(row),
      _sequence_number: row.sequence_number, _source_object: row.source_object, _record_index: row.record_index,
    })),
  );
  const tasks = await queryLake(lake, `SELECT ${taskColumns}, _event_id, epoch_us(_event_ts)::VARCHAR AS _event_ts FROM silver.tasks ORDER BY user_id, task_id`);
  expect(tasks, 'silver.tasks').toEqual(
    expected.silver.tasks.current.map((row) => ({ ...taskValues(row), _event_id: row.event_id, _event_ts: us(row.event_ts_us) })),
  );

  const historyColumns = `is_deleted, is_current, epoch_us(valid_from)::VARCHAR AS valid_from, epoch_us(valid_to)::VARCHAR AS valid_to,
 _event_id, _event_name, _sequence_number, _source_object, _record_index`;
  const historyValues = (row: Expected['silver']['tasks']['history'][number] | Expected['silver']['users']['history'][number]) => ({
    is_deleted: row.is_deleted, is_current: row.is_current, valid_from: us(row.valid_from_us), valid_to: us(row.valid_to_us),
 _event_id: row.event_id, _event_name: row.event_name,
    _sequence_number: row.sequence_number, _source_object: row.source_object, _record_index: row.record_index,
  });
  const tasksHistory = await queryLake(
    lake,
    `SELECT ${taskColumns}, ${historyColumns}, created_date::VARCHAR AS created_date FROM silver.tasks_history ORDER BY user_id, task_id, valid_from, _sequence_number, _source_object, _record_index`,
  );
  // A version's partition is the key's creation day: a deleted version's is the one of the version before it.
  let createdOfKey: { key: string; created: bigint | null } = { key: '', created: null };
  const withPartition = expected.silver.tasks.history.map((row) => {
    const key = `${row.user_id}\u0000${row.task_id}`;
    if (createdOfKey.key !== key) createdOfKey = { key, created: null };
    if (row.created_at !== null) createdOfKey.created = row.created_at;
    return { ...taskValues(row), ...historyValues(row), created_date: createdOfKey.created === null ? null : dateOfUs(createdOfKey.created) };
  });
  expect(tasksHistory, 'silver.tasks_history').toEqual(withPartition);

  const userColumns = 'user_id, email, name, plan, country, epoch_us(created_at)::VARCHAR AS created_at';
  const userValues = (row: Expected['silver']['users']['events'][number]) => ({
    user_id: row.user_id, email: row.email, name: row.name, plan: row.plan, country: row.country, created_at: us(row.created_at),
  });
  const userEvents = await queryLake(
    lake,
    `SELECT event_id, event_name, epoch_us(event_ts)::VARCHAR AS ts, ${userColumns} FROM silver.user_events ORDER BY _source_object, _record_index`,
  );
  expect(userEvents, 'silver.user_events').toEqual(
    expected.silver.users.events.map((row) => ({ event_id: row.event_id, event_name: row.event_name, ts: us(row.event_ts_us), ...userValues(row) })),
  );
  const usersHistory = await queryLake(lake, `SELECT ${userColumns}, ${historyColumns} FROM silver.users_history ORDER BY user_id, valid_from, _sequence_number, _source_object, _record_index`);
  expect(usersHistory, 'silver.users_history').toEqual(expected.silver.users.history.map((row) => ({ ...userValues(row), ...historyValues(row) })));
  const users = await queryLake(lake, `SELECT ${userColumns}, _event_id FROM silver.users ORDER BY user_id`);
  expect(users, 'silver.users').toEqual(expected.silver.users.current.map((row) => ({ ...userValues(row), _event_id: row.event_id })));

  const kpis = await queryLake(lake, 'SELECT dt::VARCHAR AS dt, * EXCLUDE (dt) FROM gold.daily_task_kpis ORDER BY dt');
  const expectedKpis = expected.gold.daily_task_kpis;
  expect(kpis.map(({ median_hours_to_complete: _median, ...rest }) => rest), 'gold.daily_task_kpis').toEqual(
    expectedKpis.map(({ median_hours_to_complete: _median, ...rest }) => rest),
  );
  kpis.forEach((row, index) => {
    const want = expectedKpis[index]?.median_hours_to_complete ?? null;
    const got = row.median_hours_to_complete as number | null;
    if (want === null) expect(got, `median on ${row.dt}`).toBeNull();
    else expect(got, `median on ${row.dt}`).toBeCloseTo(want, 9);
  });

  const activeUsers = await queryLake(lake, 'SELECT dt::VARCHAR AS dt, dau, wau, mau FROM gold.active_users ORDER BY dt');
  expect(activeUsers, 'gold.active_users').toEqual(expected.gold.active_users);
  expect(activeUsers.map((row) => row.dt), 'gold.active_users days').toEqual(expectedKpis.map((row) => row.dt));

  const userKpis = await queryLake(lake, 'SELECT * EXCLUDE (last_active_date), last_active_date::VARCHAR AS last_active_date FROM gold.user_kpis ORDER BY user_id');
  const approximate = ['completion_rate', 'avg_hours_to_complete'] as const;
  const exact = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).filter(([key]) => !(approximate as readonly string[]).includes(key)));
  expect(userKpis.map(exact), 'gold.user_kpis').toEqual(expected.gold.user_kpis.map((row) => exact({ ...row })));
  userKpis.forEach((row, index) => {
    for (const column of approximate) {
      const want = expected.gold.user_kpis[index]?.[column] ?? null;
      const got = row[column] as number | null;
      if (want === null) expect(got, `${column} of ${String(row.user_id)}`).toBeNull();
      else expect(got, `${column} of ${String(row.user_id)}`).toBeCloseTo(want, 9);
    }
  });

  // Counts add up: every landing record is a bronze row or quarantined; every bronze row is effective, a duplicate or quarantined.
  for (const result of results) {
    if (result.job.startsWith('bronze.')) {
      const source = result.job === 'bronze.tasks_cdc' ? 'tasks' : 'users';
      expect(result.recordsRead).toBe(expected.bronze[source].records);
    }
    if (result.job === 'silver.tasks') expect(result.recordsDuplicated).toBe(expected.silver.tasks.duplicates);
    if (result.job === 'silver.users') expect(result.recordsDuplicated).toBe(expected.silver.users.duplicates);
  }
  return { expected, results, lake };
}
