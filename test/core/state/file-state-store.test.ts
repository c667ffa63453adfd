import { spawn } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MedallionError } from '../../../core/errors.ts';
import { FileStateStore } from '../../../core/state/index.ts';
import { useTempDirs } from '../test-resources.ts';
import { commitRoots, nextRoot, stateStoreContract } from './state-store-contract.ts';

const tempDir = useTempDirs();
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

stateStoreContract('FileStateStore', async () => new FileStateStore(path.join(await tempDir('state'), '_state')));

/** Runs a racer script in its own node process: it prints `ready`, waits for `goFile`, then makes its attempt and prints `won=`. */
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

const LOCK_RACER_SCRIPT = `
import { existsSync } from 'node:fs';
const { FileStateStore } = await import(process.env.STORE_MODULE);
const store = new FileStateStore(process.env.STATE_DIR);
await store.readLock('silver.tasks');
process.stdout.write('ready\\n');
while (!existsSync(process.env.GO_FILE)) await new Promise((resolve) => setTimeout(resolve, 1));
const lease = await store.acquireLock('silver.tasks', process.env.RUN_ID, 60000, Date.now());
process.stdout.write('won=' + (lease !== undefined) + '\\n');
`;

const LEASE_MS = 30_000;
const T0 = Date.UTC(2025, 10, 1);

async function errorOf(attempt: () => Promise<unknown>): Promise<MedallionError> {
  const error = await attempt().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MedallionError);
  return error as MedallionError;
}

describe('FileStateStore', () => {
  async function storeWithRoots(count: number) {
    const stateDir = path.join(await tempDir('state'), '_state');
    const store = new FileStateStore(stateDir);
    const last = await commitRoots(store, count);
    return { stateDir, store, last };
  }

  it('names the damaged file when a state file does not parse, instead of failing with a bare SyntaxError', async () => {
    const { stateDir, store } = await storeWithRoots(2);
    const damaged = path.join(stateDir, 'roots', '000000000002.json');
    await writeFile(damaged, '{"seq": 2,');
    const error = await store.readRoot().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
    expect((error as Error).message).toContain(damaged);
  });

  it('reads the newest root when the HEAD hint is stale', async () => {
    const { stateDir, store, last } = await storeWithRoots(3);
    await writeFile(path.join(stateDir, 'HEAD'), '1');
    expect(await store.readRoot()).toEqual(last);
    expect(await new FileStateStore(stateDir).readRoot()).toEqual(last);
  });

  it('reads the newest root when the HEAD hint is missing or unreadable; a root HEAD names that is missing is an error, not a rollback', async () => {
    const { stateDir, store, last } = await storeWithRoots(3);
    await rm(path.join(stateDir, 'HEAD'));
    expect(await store.readRoot()).toEqual(last);
    await writeFile(path.join(stateDir, 'HEAD'), 'not a number');
    expect(await store.readRoot()).toEqual(last);
    // HEAD moves only after its root is written: a root it names that is gone was removed.
    await writeFile(path.join(stateDir, 'HEAD'), '3');
    await rm(path.join(stateDir, 'roots', `${'3'.padStart(12, '0')}.json`));
    const error = await store.readRoot().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect((error as MedallionError).code).toBe('STATE_CORRUPT');
    expect((error as Error).message).toMatch(/root 3, the lake's newest commit as .*HEAD says, is missing/);
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

  it('keeps only the newest two generation files of a lock, and no temporary files', async () => {
    const { stateDir, store } = await storeWithRoots(0);
    let lease = await store.acquireLock('silver.tasks', 'run_a', LEASE_MS, T0);
    for (let beat = 1; beat <= 5; beat += 1) lease = await store.renewLock(lease!, LEASE_MS, T0 + beat * 1_000);
    expect(await readdir(path.join(stateDir, 'locks', 'silver.tasks'))).toEqual(['000000000005.json', '000000000006.json']);
    await store.releaseLock(lease!);
    expect(await readdir(path.join(stateDir, 'locks', 'silver.tasks'))).toEqual(['000000000006.json', '000000000007.json']);
  });

  it('does not count a write that recreates a generation already superseded and pruned', async () => {
    const { stateDir, store } = await storeWithRoots(0);
    const first = await store.acquireLock('silver.tasks', 'run_a', LEASE_MS, T0);
    // A writer that read generation 1, then stalled while run_b took over and renewed twice (pruning 1 and 2).
    const stalled = new FileStateStore(stateDir);
    const staleView = await stalled.readLock('silver.tasks');
    stalled.readLock = async () => staleView;
    let taker = await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, first!.expiresAtMs);
    taker = await store.renewLock(taker!, LEASE_MS, first!.expiresAtMs + 1_000);
    taker = await store.renewLock(taker, LEASE_MS, first!.expiresAtMs + 2_000);
    expect(await stalled.acquireLock('silver.tasks', 'run_c', LEASE_MS, first!.expiresAtMs + 3_000)).toBeUndefined();
    const error = await errorOf(() => stalled.renewLock(first!, LEASE_MS, first!.expiresAtMs + 3_000));
    expect(error.code).toBe('LOCK_LOST');
    expect(await store.readLock('silver.tasks')).toEqual({ ...taker, released: false });
  });

  it('refuses lock names, record collections and record ids that are not safe path parts', async () => {
    const { store } = await storeWithRoots(0);
    for (const name of ['jobs/silver.tasks', '..', '../escape', 'a..b', '']) {
      expect((await errorOf(() => store.acquireLock(name, 'run_a', LEASE_MS, T0))).code).toBe('STATE_LOCK_NAME_INVALID');
      expect((await errorOf(() => store.readLock(name))).code).toBe('STATE_LOCK_NAME_INVALID');
    }
    for (const collection of ['../runs', 'runs/../../escape', '/runs', 'runs//silver.tasks', '']) {
      expect((await errorOf(() => store.putRecord(collection, 'jr_1', {}))).code).toBe('STATE_RECORD_COLLECTION_INVALID');
      expect((await errorOf(() => store.listRecords(collection))).code).toBe('STATE_RECORD_COLLECTION_INVALID');
    }
    for (const id of ['a/b', '..', '../escape', '']) {
      expect((await errorOf(() => store.putRecord('runs/silver.tasks', id, {}))).code).toBe('STATE_RECORD_ID_INVALID');
      expect((await errorOf(() => store.getRecord('runs/silver.tasks', id))).code).toBe('STATE_RECORD_ID_INVALID');
    }
  });

  it('gives a lock to exactly one of four separate processes acquiring it at once', async () => {
    const dir = await tempDir('lock-race');
    const { stateDir, store } = await storeWithRoots(0);
    const scriptPath = path.join(dir, 'lock-racer.mjs');
    await writeFile(scriptPath, LOCK_RACER_SCRIPT);
    const goFile = path.join(dir, 'go');
    const racers = ['p0', 'p1', 'p2', 'p3'].map((runId) => ({ runId, ...racer(scriptPath, stateDir, goFile, runId) }));
    await Promise.all(racers.map((entry) => entry.ready));
    await writeFile(goFile, '');
    const results = await Promise.all(racers.map((entry) => entry.result));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.readLock('silver.tasks')).toMatchObject({ owner: racers[results.indexOf(true)]?.runId, generation: 1, released: false });
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
