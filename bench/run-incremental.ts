import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LocalStorage, openLocalLake, runJobs, type ObjectInfo } from '../core/index.ts';
import { PIPELINE_JOBS } from '../jobs/index.ts';
import { generateLanding, tasksPerDayForEvents } from '../simulator/index.ts';

/**
 * Bookmarked runs on a copy of a benchmark lake (landing hard-linked, so the copy is instant): a first
 * run over everything, a second with nothing new, then one after about 1% more change events arrive.
 * Prints JSON timings and whether the idle run committed anything.
 */
const source = process.argv[2];
if (!source) throw new Error('usage: run-incremental.ts LAKE_DIR');
const dir = `${path.resolve(source)}-incremental`;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
execFileSync('cp', ['-al', path.join(source, 'landing'), path.join(dir, 'landing')]);

const lake = openLocalLake(dir);
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
const timed = async () => {
  const started = performance.now();
  const results = await runJobs(lake, PIPELINE_JOBS, enable);
  return { wallMs: performance.now() - started, jobs: results.map((result) => ({ job: result.job, wallMs: result.elapsedMs, recordsRead: result.recordsRead, nothingNew: result.nothingNew })) };
};

const first = await timed();
const seqBeforeIdle = (await lake.state.readRoot()).seq;
const idle = await timed();
const idleCommitted = (await lake.state.readRoot()).seq !== seqBeforeIdle;

// 1% more traffic lands: a day of new change events (new event ids, later Firehose keys), about 1% of the lake.
const storage = new LocalStorage(dir);
const objects: ObjectInfo[] = [];
for await (const object of storage.list('landing/')) objects.push(object);
const eventsInLake = Number(process.argv[3] ?? 1_000_000);
const before = objects.length;
await generateLanding(storage, {
  seed: 424242,
  start: '2031-01-01',
  days: 1,
  users: 200,
  tasksPerDay: tasksPerDayForEvents(Math.round(eventsInLake / 100), { days: 1, users: 200 }),
});
let after = 0;
for await (const _object of storage.list('landing/')) after += 1;
const added = after - before;
const onePercent = await timed();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ first, idle, idleCommitted, added, objects: objects.length, onePercent })}\n`);
