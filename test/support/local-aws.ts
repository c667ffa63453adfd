import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dynalite from 'dynalite';
import S3rver from 's3rver';

/** Settings every SDK client in the tests uses: loopback only, fixed fake credentials. */
export function loopbackClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test-access-key', secretAccessKey: 'test-secret-key' },
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

/** s3rver (S3's protocol, on files in a temporary folder) on a free 127.0.0.1 port. */
export async function startS3rver(): Promise<LocalServer> {
  const directory = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
