import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LocalStorage, openLocalLake, runJobs } from '../core/index.ts';
import { PIPELINE_JOBS } from '../jobs/index.ts';
import { loadPipelineRuleSets } from '../jobs/quality.ts';
import { arrivalOfKey } from './arrival-times.ts';
import { stageWallMs } from './stage-wall.ts';

/**
 * Bookmarked runs on a copy of a benchmark lake (landing hard-linked, so the copy is instant): a first
 * run over all but the newest 1% of landing objects, a second with nothing new, then one after those land.
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
// The newest 1% of the objects, by arrival (the time in their names), land later.
const newest = [...arrivals.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? 1 : -1)).slice(0, Math.round(arrivals.size / 100));
for (const [file] of newest) {
  const held = path.join(holding, path.relative(dir, file));
  mkdirSync(path.dirname(held), { recursive: true });
  renameSync(file, held);
  heldBack.push({ from: held, to: file });
}
const before = arrivals.size - heldBack.length;

const lake = openLocalLake(dir);
const quality = process.env.MEDALLION_BENCH_QUALITY === 'off' ? undefined : await loadPipelineRuleSets();
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }), ...(quality ? { quality } : {}) };
const timed = async () => {
  const started = performance.now();
  const results = await runJobs(lake, PIPELINE_JOBS, enable);
  return { wallMs: performance.now() - started, goldWallMs: stageWallMs(results, 'gold.'), jobs: results.map((result) => ({ job: result.job, wallMs: result.elapsedMs, recordsRead: result.recordsRead, nothingNew: result.nothingNew })) };
};

const first = await timed();
const seqBeforeIdle = (await lake.state.readRoot()).seq;
const idle = await timed();
const idleCommitted = (await lake.state.readRoot()).seq !== seqBeforeIdle;

// The held-back objects land, with their Firehose modified times (newer than anything read so far).
for (const { from, to } of heldBack) {
  mkdirSync(path.dirname(to), { recursive: true });
  renameSync(from, to);
}
const added = heldBack.length;
const onePercent = await timed();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ first, idle, idleCommitted, added, objects: before, onePercent })}\n`);
