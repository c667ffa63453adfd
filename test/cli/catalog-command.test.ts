import { describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { openLocalLake, type Lake } from '../../core/index.ts';
import type { Catalog } from '../../core/catalog/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { stackFrames, withoutLakeLine } from './cli-output.ts';

const tempDir = useTempDirs();

/** The CLI over a folder lake whose catalog refuses while `broken()` says so (as Glue refusing a role would). */
async function cliWithCatalog(dir: string, broken: () => boolean) {
  let publishes = 0;
  const openLake = (directory: string): Lake => {
    const lake = openLocalLake(directory);
    const catalog: Catalog = {
      publish: async (root, options) => {
        publishes += 1;
        if (broken()) throw Object.assign(new Error('User is not authorized to perform: glue:UpdateTable'), { name: 'AccessDeniedException' });
        await lake.catalog.publish(root, options);
      },
    };
    return { ...lake, catalog };
  };
  const run = async (args: readonly string[]) => {
    const io = bufferIo();
    const code = await invoke(['--lake', dir, ...args], { io, env: {}, openLake });
    return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
  };
  return { run, publishes: () => publishes };
}

describe('medallion catalog', () => {
  it('a run whose publish fails exits 0 with a warning; `catalog status` says so (exit 1) until `catalog publish` succeeds', async () => {
    const dir = await tempDir('catalog-cli');
    await generateLanding(openLocalLake(dir).storage, { seed: 3, days: 1, users: 5, tasksPerDay: 8 });
    let broken = true;
    const cli = await cliWithCatalog(dir, () => broken);

    const run = await cli.run(['run', 'bronze.tasks_cdc', 'bronze.users_cdc']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('bronze.tasks_cdc SUCCEEDED');
    expect(run.stderr).toMatch(/^warning: catalog: NOT published: 4 table\(s\) at root \d+, 1 attempt\(s\) .*AccessDeniedException.*medallion catalog publish/m);

    const failed = await cli.run(['catalog', 'status']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/CATALOG_PUBLISH_FAILED.*AccessDeniedException/);
    expect(stackFrames(failed.stderr)).toEqual([]);

    broken = false;
    const published = await cli.run(['catalog', 'publish', 'bronze.tasks_cdc']);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toMatch(/^catalog: published 1 table\(s\) at root \d+/);
    const status = await cli.run(['catalog', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^catalog: published 1 table\(s\)/);
  });

  it('refuses an unknown table by name, listing the known ones', async () => {
    const dir = await tempDir('catalog-cli');
    const cli = await cliWithCatalog(dir, () => false);
    const result = await cli.run(['catalog', 'publish', 'gold.no_such_table']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/TABLE_UNKNOWN.*gold\.no_such_table.*gold\.daily_task_kpis/);
    expect(cli.publishes()).toBe(0);
  });
});
