import { spawn } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FileStateStore, MedallionError } from '../../../core/index.ts';
import { useTempDirs } from '../test-resources.ts';
import { commitRoots, nextRoot, stateStoreContract } from './state-store-contract.ts';

const tempDir = useTempDirs();
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

stateStoreContract('FileStateStore', async () => new FileStateStore(path.join(await tempDir('state'), '_state')));

/** Runs a node process that waits for `goFile`, then tries to commit the root after the current one. */
function racer(scriptPath: string, stateDir: string, goFile: string, runId: string): { ready: Promise<void>; result: Promise<boolean> } {
  const child = spawn(process.execPath, ['--import', 'tsx', scriptPath], {
    cwd: repoRoot,
    env: { ...process.env, STATE_DIR: stateDir, GO_FILE: goFile, RUN_ID: runId, STORE_MODULE: pathToFileURL(path.join(repoRoot, 'core/state/index.ts')).href },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('ready\n')) markReady();
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const result = new Promise<boolean>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const match = /won=(true|false)/.exec(out);
      if (code !== 0 || !match) reject(new Error(`racer ${runId} exited ${code}: ${err}`));
      else resolve(match[1] === 'true');
    });
  });
  result.catch(() => markReady());
  return { ready, result };
}

const RACER_SCRIPT = `
import { existsSync } from 'node:fs';
const { FileStateStore } = await import(process.env.STORE_MODULE);
const store = new FileStateStore(process.env.STATE_DIR);
const current = await store.readRoot();
process.stdout.write('ready\\n');
while (!existsSync(process.env.GO_FILE)) await new Promise((resolve) => setTimeout(resolve, 1));
const won = await store.swapRoot({ ...current, seq: current.seq + 1, runId: process.env.RUN_ID, committedAt: new Date().toISOString() });
process.stdout.write('won=' + won + '\\n');
`;

describe('FileStateStore', () => {
  async function storeWithRoots(count: number) {
    const stateDir = path.join(await tempDir('state'), '_state');
    const store = new FileStateStore(stateDir);
    const last = await commitRoots(store, count);
    return { stateDir, store, last };
  }

  it('reads the newest root when the HEAD hint is stale', async () => {
    const { stateDir, store, last } = await storeWithRoots(3);
    await writeFile(path.join(stateDir, 'HEAD'), '1');
    expect(await store.readRoot()).toEqual(last);
    expect(await new FileStateStore(stateDir).readRoot()).toEqual(last);
  });

  it('reads the newest root when the HEAD hint is missing, unreadable, or names a root that does not exist', async () => {
    const { stateDir, store, last } = await storeWithRoots(3);
    await rm(path.join(stateDir, 'HEAD'));
    expect(await store.readRoot()).toEqual(last);
    await writeFile(path.join(stateDir, 'HEAD'), 'not a number');
    expect(await store.readRoot()).toEqual(last);
    await writeFile(path.join(stateDir, 'HEAD'), '99');
    expect(await store.readRoot()).toEqual(last);
  });

  it('leaves no temporary files after winning and losing swaps', async () => {
    const { stateDir, store, last } = await storeWithRoots(2);
    await Promise.all(Array.from({ length: 5 }, (_, index) => store.swapRoot(nextRoot(last, `c${index}`))));
    const names = await readdir(stateDir, { recursive: true });
    expect(names.filter((name) => path.basename(name).startsWith('.tmp-'))).toEqual([]);
  });

  it('refuses a document id that climbs out of its folder', async () => {
    const { store } = await storeWithRoots(0);
    const error = await store.putDocument('../escape', {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect((error as MedallionError).code).toBe('STATE_DOCUMENT_ID_INVALID');
  });

  it('lets exactly one of four separate processes commit the next root', async () => {
    const dir = await tempDir('state-race');
    const { stateDir, store, last } = await storeWithRoots(2);
    const scriptPath = path.join(dir, 'racer.mjs');
    await writeFile(scriptPath, RACER_SCRIPT);
    const goFile = path.join(dir, 'go');
    const racers = ['p0', 'p1', 'p2', 'p3'].map((runId) => ({ runId, ...racer(scriptPath, stateDir, goFile, runId) }));
    // Every process has read root 2 before any may commit, so all four really race for root 3.
    await Promise.all(racers.map((entry) => entry.ready));
    await writeFile(goFile, '');
    const results = await Promise.all(racers.map((entry) => entry.result));
    expect(results.filter(Boolean)).toHaveLength(1);
    const root = await store.readRoot();
    expect(root.seq).toBe(last.seq + 1);
    expect(root.runId).toBe(racers[results.indexOf(true)]?.runId);
  });
});
