import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Makes `to` a lake holding only the landing objects of the benchmark lake `from`, hard-linked (instant, and
 * safe: no job writes to landing). Anything at `to` before is removed.
 */
export function landingOnlyLake(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  execFileSync('cp', ['-al', path.join(from, 'landing'), path.join(to, 'landing')]);
}
