import { readFile, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quoteLiteral } from '../core/index.ts';
import { DuckDbEngine } from '../core/engine/index.ts';

/** Runs bench/handwritten.sql over a lake's landing files (its own process, for a clean peak RSS) and prints JSON timings. */
const directory = process.argv[2];
if (!directory) throw new Error('usage: run-handwritten.ts LAKE_DIR');
const lakeDir = path.resolve(directory);
const out = path.join(lakeDir, '_handwritten');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const template = await readFile(path.join(path.dirname(fileURLToPath(import.meta.url)), 'handwritten.sql'), 'utf8');
const script = template
  .replaceAll('{{LANDING_TASKS}}', quoteLiteral(path.join(lakeDir, 'landing/tasks/**/*')))
  .replaceAll('{{LANDING_USERS}}', quoteLiteral(path.join(lakeDir, 'landing/users/**/*')))
  .replaceAll('{{OUT}}', out);
const engine = await DuckDbEngine.create();
const started = performance.now();
const statements = script
  .split(/;\s*$/m)
  .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
  .filter((statement) => statement.length > 0);
const steps: { statement: string; wallMs: number }[] = [];
for (const statement of statements) {
  const stepStarted = performance.now();
  await engine.run(statement);
  steps.push({ statement: statement.slice(0, 60).replace(/\s+/g, ' '), wallMs: performance.now() - stepStarted });
}
const totalMs = performance.now() - started;
const { rows } = await engine.query(`SELECT count(*) AS n FROM read_parquet(${quoteLiteral(`${out}/bronze_tasks/*/*.parquet`)})`);
// The script's peak, before the floor below runs.
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
// The engine's floor for bronze.tasks_cdc's work, timed apart from the script: DuckDB reads the landing objects, parses
// each record once for the envelope fields bronze keeps, and streams them to Parquet. Nothing more: no record index,
// no checks, no quarantine (a record it cannot read is dropped). No bronze built on DuckDB runs faster than this.
const floorStarted = performance.now();
await engine.run(`
  COPY (
    SELECT filename AS source_object, envelope[1] AS event_id, envelope[2] AS event_name, envelope[3] AS event_time, envelope[4] AS keys,
           envelope[5] AS new_image, envelope[6] AS old_image, envelope[7] AS sequence_number
    FROM (SELECT filename, json_extract(json, ['$.eventID', '$.eventName', '$.dynamodb.ApproximateCreationDateTime', '$.dynamodb.Keys',
                                                '$.dynamodb.NewImage', '$.dynamodb.OldImage', '$.dynamodb.SequenceNumber']) AS envelope
          FROM read_json_objects(${quoteLiteral(path.join(lakeDir, 'landing/tasks/**/*'))}, format = 'auto', filename = true, ignore_errors = true))
  ) TO ${quoteLiteral(path.join(out, 'floor.parquet'))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`);
const floorBronzeTasksMs = performance.now() - floorStarted;
engine.close();
await rm(out, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ totalMs, steps, floorBronzeTasksMs, bronzeTaskRows: rows[0]?.n, peakRssBytes })}\n`);
