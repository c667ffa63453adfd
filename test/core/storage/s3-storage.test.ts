import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, MedallionError } from '../../../core/errors.ts';
import { parseS3Uri } from '../../../core/storage/index.ts';
import { S3Storage } from '../../../core/storage/s3-storage.ts';
import { collect } from '../test-resources.ts';
import { loopbackClientConfig, startS3rver, type LocalServer } from '../../support/local-aws.ts';
import { storageContract } from './storage-contract.ts';

let server: LocalServer;
let client: S3Client;

beforeAll(async () => {
  server = await startS3rver();
  client = new S3Client({ ...loopbackClientConfig(server.endpoint), forcePathStyle: true });
});
afterAll(async () => {
  client.destroy();
  await server.close();
});

async function bucket(): Promise<string> {
  const name = `lake-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

// s3rver writes an object in place, so concurrent overwrites of one key can interleave there (never on S3).
storageContract('S3Storage (s3rver)', async () => new S3Storage(client, { locations: { default: `s3://${await bucket()}/lake/` } }), { atomicOverwrites: false });

describe('S3Storage', () => {
  it('puts each top folder where the configuration says and lists across them in key order', async () => {
    const [raw, refined] = [await bucket(), await bucket()];
    const storage = new S3Storage(client, { locations: { landing: `s3://${raw}/`, bronze: `s3://${raw}/`, default: `s3://${refined}/env/` } });
    for (const key of ['silver/t/a.parquet', 'landing/tasks/x.gz', 'bronze/t/b.parquet', 'gold/k/c.parquet']) await storage.put(key, key);
    expect(storage.resolve('landing/tasks/x.gz')).toEqual({ bucket: raw, s3Key: 'landing/tasks/x.gz' });
    expect(storage.resolve('gold/k/c.parquet')).toEqual({ bucket: refined, s3Key: 'env/gold/k/c.parquet' });
    // A key's address in messages is its own location's, not the lake's default.
    expect(storage.uriOf('landing/tasks/x.gz')).toBe(`s3://${raw}/landing/tasks/x.gz`);
    expect(storage.uriOf('reports/r.html')).toBe(`s3://${refined}/env/reports/r.html`);
    expect((await collect(storage.list(''))).map((object) => object.key)).toEqual(['bronze/t/b.parquet', 'gold/k/c.parquet', 'landing/tasks/x.gz', 'silver/t/a.parquet']);
    expect((await storage.get('gold/k/c.parquet')).toString()).toBe('gold/k/c.parquet');
  });

  it('lists thousands of objects across pages', async () => {
    const storage = new S3Storage(client, { locations: { default: `s3://${await bucket()}/` } });
    const keys = Array.from({ length: 2100 }, (_, index) => `landing/t/${String(index).padStart(5, '0')}.json`);
    for (let start = 0; start < keys.length; start += 100) await Promise.all(keys.slice(start, start + 100).map((key) => storage.put(key, '{}')));
    expect((await collect(storage.list('landing/t/'))).map((object) => object.key)).toEqual(keys);
  });

  it('uploads a large object in parts and reads it back byte for byte', async () => {
    const storage = new S3Storage(client, { locations: { default: `s3://${await bucket()}/` }, multipartBytes: 5 * 1024 * 1024 });
    const body = Buffer.alloc(12 * 1024 * 1024);
    for (let index = 0; index < body.length; index += 4096) body[index] = index % 251;
    await storage.put('bronze/big.bin', body);
    expect((await storage.get('bronze/big.bin')).equals(body)).toBe(true);
    expect((await storage.stat('bronze/big.bin'))?.sizeBytes).toBe(body.length);
  });

  it('fails at once, naming the bucket and key, when the bucket does not exist', async () => {
    const storage = new S3Storage(client, { locations: { default: 's3://no-such-bucket-here/' } });
    const error = await storage.put('silver/x', 'x').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect((error as Error).message).toContain('s3://no-such-bucket-here/silver/x');
  });

  it('refuses a configuration that is not s3://bucket[/prefix], listing every problem', () => {
    expect(() => new S3Storage(client, { locations: { landing: 'http://x', default: 's3://' } })).toThrow(ConfigError);
    expect(() => new S3Storage(client, { locations: { landing: 'http://x', default: 's3://' } })).toThrow(/landing.*default/);
    expect(parseS3Uri('s3://my-lake/env')).toEqual({ bucket: 'my-lake', prefix: 'env/' });
    expect(parseS3Uri('s3://my-lake')).toEqual({ bucket: 'my-lake', prefix: '' });
    expect(parseS3Uri(' s3://my-lake//env/x// ')).toEqual({ bucket: 'my-lake', prefix: 'env/x/' });
    expect(parseS3Uri('s3://My_Lake/env')).toBeUndefined();
  });
});
