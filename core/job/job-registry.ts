import { ConfigError } from '../errors.ts';
import { LAYERS, type TableSpec } from '../table/index.ts';
import type { Job } from './define-job.ts';

/** The mark `defineJob` puts on the jobs it checked (a registered symbol: it holds across copies of this module). */
const DEFINED = Symbol.for('medallion.job');

/** Marks a job as made by `defineJob` (checked), so a registry can find it among a module's exports. */
export function markDefined<T extends object>(job: T): T {
  Object.defineProperty(job, DEFINED, { value: true, enumerable: false });
  return job;
}

/** A value `defineJob` returned (a copy made with `{ ...job }` is not: it was never checked). */
export function isJob(value: unknown): value is Job {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DEFINED] === true;
}

/**
 * The jobs a set of modules export, each once, by layer (bronze, silver, gold) and then by name: a
 * pipeline's registry is the modules it names, so a new job is its file plus the line that exports it.
 *
 * @example
 * import * as gold from './gold/index.ts';
 * const jobs = jobsExportedBy([bronze, silver, gold]);
 */
export function jobsExportedBy(modules: readonly Readonly<Record<string, unknown>>[]): Job[] {
  const jobs = new Set<Job>();
  for (const module of modules) for (const value of Object.values(module)) if (isJob(value)) jobs.add(value);
  const layerOrder = (job: Job) => (LAYERS as readonly string[]).indexOf(job.layer);
  const ordered = [...jobs].sort((a, b) => layerOrder(a) - layerOrder(b) || a.name.localeCompare(b.name));
  const problems: string[] = [];
  if (ordered.length === 0) problems.push('the modules export no job made by defineJob');
  for (const [index, job] of ordered.entries()) {
    if (ordered.findIndex((other) => other.name === job.name) !== index) problems.push(`two jobs are named ${job.name}`);
  }
  const writers = new Map<string, string>();
  for (const job of ordered) {
    for (const output of job.outputs) {
      const other = writers.get(output.name);
      if (other !== undefined && other !== job.name) problems.push(`${output.name} is written by both ${other} and ${job.name}`);
      writers.set(output.name, job.name);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError('JOB_REGISTRY_INVALID', `the job registry is not valid: ${problems.join('; ')}`, {
      hint: 'each job needs a name of its own, and each table one job that writes it',
    });
  }
  return ordered;
}

/** The tables `jobs` write, each once, in the jobs' order, then `extra` (tables the framework writes for every job). */
export function tablesWrittenBy(jobs: readonly Job[], extra: readonly TableSpec[] = []): TableSpec[] {
  const tables = new Map<string, TableSpec>();
  for (const spec of [...jobs.flatMap((job) => job.outputs), ...extra]) if (!tables.has(spec.name)) tables.set(spec.name, spec);
  return [...tables.values()];
}
