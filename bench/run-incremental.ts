import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LocalStorage, PIPELINE_JOBS, loadPipelineRuleSets, openLocalLake, runJobs } from './product.ts';
import { arrivalOfKey } from './arrival-times.ts';
import { landingOnlyLake } from './landing-lake.ts';
import { median } from './median.ts';
import { stageWallMs } from './stage-wall.ts';

/**
 * Bookmarked runs on a copy of a benchmark lake (landing hard-linked, so the copy is instant): a first
 * run over all but the newest 1% of landing objects, a second with nothing new, then one after those land,
 * `REPEAT` times, each from the lake as the idle run left it (the median counts: one run's time varies),
 * then `REPEAT` runs after only the newest object of each source landed (what any bookmarked run costs).
 * Prints JSON timings, with the CPU each run used, and whether the idle run committed anything.
 */
const source = process.argv[2];
const repeat = Number(process.argv[3] ?? 1);
if (!source || !Number.isInteger(repeat) || repeat < 1) throw new Error('usage: run-incremental.ts LAKE_DIR [REPEAT]');
const dir = `${path.resolve(source)}-incremental`;
landingOnlyLake(source, dir);
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

// MEDALLION_MEMORY_LIMIT as in run-pipeline.ts: the bookmarked runs run under the same limit as the full ones.
const lake = openLocalLake(dir, process.env.MEDALLION_MEMORY_LIMIT ? { memoryLimit: process.env.MEDALLION_MEMORY_LIMIT } : {});
const quality = process.env.MEDALLION_BENCH_QUALITY === 'off' ? undefined : await loadPipelineRuleSets();
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }), ...(quality ? { quality } : {}) };
const timed = async () => {
  const started = performance.now();
  // Process-wide, so DuckDB's threads count: the CPU the run needed, which bounds its wall time on this machine's cores.
  const cpu = process.cpuUsage();
  const results = await runJobs(lake, PIPELINE_JOBS, enable);
  const used = process.cpuUsage(cpu);
  return {
    wallMs: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
    goldWallMs: stageWallMs(results, 'gold.'),
    jobs: results.map((result) => ({ job: result.job, wallMs: result.elapsedMs, recordsRead: result.recordsRead, nothingNew: result.nothingNew, phasesMs: result.phasesMs ?? {} })),
  };
};

const first = await timed();
const seqBeforeIdle = (await lake.state.readRoot()).seq;
const idle = await timed();
const idleCommitted = (await lake.state.readRoot()).seq !== seqBeforeIdle;

// The lake as the idle run left it, to start each 1% run from (landing and the held-back objects are never
// written to, so they are hard-linked; tables, state, catalog and metrics are copied).
const snapshot = `${dir}-snapshot`;
const copyLake = (from: string, to: string) => {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    execFileSync('cp', [entry === 'landing' || entry === 'held-back' ? '-al' : '-a', path.join(from, entry), path.join(to, entry)]);
  }
};
copyLake(dir, snapshot);
const land = (objects: Iterable<{ from: string; to: string }>) => {
  for (const { from, to } of objects) {
    mkdirSync(path.dirname(to), { recursive: true });
    linkSync(from, to);
  }
};
const added = heldBack.length;
const onePercentRuns: Awaited<ReturnType<typeof timed>>[] = [];
for (let attempt = 0; attempt < repeat; attempt += 1) {
  if (attempt > 0) copyLake(snapshot, dir);
  // The held-back objects land, with their Firehose modified times (newer than anything read so far).
  land(heldBack);
  onePercentRuns.push(await timed());
}
// The fixed cost of a bookmarked run: from the same lake, only the newest held-back object of each source lands
// (a few dozen records), so every job has something new but next to nothing to do.
const newestPerSource = new Map<string, { from: string; to: string }>();
for (const object of heldBack) {
  const source = path.relative(path.join(dir, 'landing'), object.to).split(path.sep)[0] as string;
  if (!newestPerSource.has(source)) newestPerSource.set(source, object);
}
const floorRuns: Awaited<ReturnType<typeof timed>>[] = [];
for (let attempt = 0; attempt < repeat; attempt += 1) {
  copyLake(snapshot, dir);
  land(newestPerSource.values());
  floorRuns.push(await timed());
}
rmSync(dir, { recursive: true, force: true });
rmSync(snapshot, { recursive: true, force: true });
const wall = onePercentRuns.map((run) => run.wallMs);
// The run whose time is the median's (the lower middle one for an even count) gives the per-job figures.
const typical = [...onePercentRuns].sort((a, b) => a.wallMs - b.wallMs)[Math.floor((onePercentRuns.length - 1) / 2)] as (typeof onePercentRuns)[number];
const onePercent = { ...typical, wallMs: median(wall), cpuMs: median(onePercentRuns.map((run) => run.cpuMs)), goldWallMs: median(onePercentRuns.map((run) => run.goldWallMs)) };
const floor = {
  objects: newestPerSource.size,
  wallMs: median(floorRuns.map((run) => run.wallMs)),
  cpuMs: median(floorRuns.map((run) => run.cpuMs)),
  goldWallMs: median(floorRuns.map((run) => run.goldWallMs)),
  // Every run lands the same objects, so the first one's bronze jobs tell how many records they hold.
  recordsRead: (floorRuns[0]?.jobs ?? []).filter((job) => job.job.startsWith('bronze.')).reduce((sum, job) => sum + job.recordsRead, 0),
};
process.stdout.write(
  `${JSON.stringify({ first, idle, idleCommitted, added, objects: before, onePercent, onePercentRuns: onePercentRuns.map((run) => ({ wallMs: run.wallMs, goldWallMs: run.goldWallMs })), floor })}\n`,
);
