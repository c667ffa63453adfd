import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LocalStorage, openLocalLake, runJobs } from '../core/index.ts';
import { PIPELINE_JOBS } from '../jobs/index.ts';
import { arrivalOfKey } from './arrival-times.ts';

/**
 * Bookmarked runs on a copy of a benchmark lake (landing hard-linked, so the copy is instant): a first
 * run over all but the last day, a second with nothing new, then one after the last day's objects land (about 1%).
 * Prints JSON timings and whether the idle run committed anything.
 */
const source = process.argv[2];
if (!source) throw new Error('usage: run-incremental.ts LAKE_DIR');
const dir = `${path.resolve(source)}-incremental`;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
execFileSync('cp', ['-al', path.join(source, 'landing'), path.join(dir, 'landing')]);
const holding = path.join(dir, 'held-back');
const heldBack: { from: string; to: string }[] = [];
const arrivals = new Map<string, number>();
for (const entry of readdirSync(path.join(dir, 'landing'), { recursive: true, withFileTypes: true })) {
  const arrival = entry.isFile() ? arrivalOfKey(entry.name) : undefined;
  if (arrival !== undefined) arrivals.set(path.join(entry.parentPath, entry.name), arrival);
}
// The last day of traffic, and what Firehose delivered after it (late objects).
const { lastEventTime } = JSON.parse(readFileSync(path.join(source, 'bench-summary.json'), 'utf8')) as { lastEventTime: string };
const lastDay = lastEventTime.slice(0, 10);
for (const [file, arrival] of arrivals) {
  if (new Date(arrival).toISOString().slice(0, 10) < lastDay) continue;
  const held = path.join(holding, path.relative(dir, file));
  mkdirSync(path.dirname(held), { recursive: true });
  renameSync(file, held);
  heldBack.push({ from: held, to: file });
}
const before = arrivals.size - heldBack.length;

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

// The last day's traffic lands: its objects (by arrival time in their names) were held back from the
// copy, and now move in with their Firehose modified times. One day of BENCH_DAYS: about 1% of the lake.
for (const { from, to } of heldBack) {
  mkdirSync(path.dirname(to), { recursive: true });
  renameSync(from, to);
}
const added = heldBack.length;
const onePercent = await timed();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ first, idle, idleCommitted, added, objects: before, onePercent })}\n`);
