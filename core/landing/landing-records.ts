import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { Engine } from '../engine/index.ts';
import { quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import type { ObjectInfo, Storage } from '../storage/index.ts';
import { isUtf8, readObjectRecords } from './record-splitter.ts';

/** Columns of the relation a landing source becomes. */
export const LANDING_RECORD_COLUMNS = [
  'source_object VARCHAR',
  'record_index BIGINT',
  'object_last_modified TIMESTAMP',
  'raw VARCHAR',
  'split_error VARCHAR',
] as const;

const FIELD_SEPARATOR = '\x1f';
const NEEDS_ENCODING = /[\n\r\x1f]/;

export interface LandingLoadResult {
  readonly objects: number;
  readonly records: number;
  readonly bytesRead: number;
}

/**
 * Loads the records of landing objects into `table` (see LANDING_RECORD_COLUMNS).
 * Node only cuts records apart, streaming them to a spool file; DuckDB reads the spool in parallel,
 * so no table is ever held in Node memory.
 */
export async function loadLandingRecords(
  engine: Engine,
  storage: Storage,
  objects: readonly ObjectInfo[],
  table: string,
): Promise<LandingLoadResult> {
  const spoolDir = await mkdtemp(path.join(tmpdir(), 'medallion-landing-'));
  const spoolPath = path.join(spoolDir, 'records.txt');
  let records = 0;
  let bytesRead = 0;
  try {
    const spool = createWriteStream(spoolPath);
    const spoolDone = once(spool, 'close');
    for (const [ordinal, object] of objects.entries()) {
      const body = await storage.get(object.key);
      bytesRead += body.length;
      for await (const record of readObjectRecords(body)) {
        records += 1;
        await writeLine(spool, spoolLine(ordinal, record.recordIndex, record.raw, record.errorCode ?? '', record.errorDetail));
      }
    }
    spool.end();
    await spoolDone;

    const objectsTable = `${table}__objects`;
    await engine.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdentifier(objectsTable)} (ordinal INTEGER, key VARCHAR, last_modified TIMESTAMP)`);
    for (let start = 0; start < objects.length; start += 500) {
      const values = objects
        .slice(start, start + 500)
        .map((object, offset) => `(${start + offset}, ${quoteLiteral(object.key)}, make_timestamp(${Math.round(object.lastModifiedMs * 1000)}::BIGINT))`);
      await engine.run(`INSERT INTO ${quoteIdentifier(objectsTable)} VALUES ${values.join(', ')}`);
    }
    const columns = `{'ordinal': 'INTEGER', 'record_index': 'BIGINT', 'split_error': 'VARCHAR', 'encoding': 'VARCHAR', 'payload': 'VARCHAR'}`;
    await engine.run(`
      CREATE OR REPLACE TEMP TABLE ${quoteIdentifier(table)} AS
      SELECT o.key AS source_object,
             r.record_index,
             o.last_modified AS object_last_modified,
             CASE r.encoding WHEN 'b64' THEN decode(from_base64(r.payload)) ELSE coalesce(r.payload, '') END AS raw,
             r.split_error
      FROM read_csv(${quoteLiteral(spoolPath)}, delim = ${quoteLiteral(FIELD_SEPARATOR)}, quote = '', escape = '',
                    header = false, new_line = '\\n', auto_detect = false, columns = ${columns},
                    max_line_size = 268435456) AS r
      JOIN ${quoteIdentifier(objectsTable)} AS o ON o.ordinal = r.ordinal`);
    await engine.run(`DROP TABLE ${quoteIdentifier(objectsTable)}`);
    return { objects: objects.length, records, bytesRead };
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}

function spoolLine(ordinal: number, recordIndex: number, raw: Buffer, errorCode: string, errorDetail?: string): string {
  // A record that is not UTF-8 keeps its readable part; the bronze job quarantines it by this code.
  let code = errorCode;
  if (code === '' && !isUtf8(raw)) code = 'invalid_utf8';
  let text = errorDetail ?? raw.toString('utf8');
  let encoding = '';
  if (NEEDS_ENCODING.test(text)) {
    text = Buffer.from(text, 'utf8').toString('base64');
    encoding = 'b64';
  }
  return `${ordinal}${FIELD_SEPARATOR}${recordIndex}${FIELD_SEPARATOR}${code}${FIELD_SEPARATOR}${encoding}${FIELD_SEPARATOR}${text}\n`;
}

async function writeLine(stream: WriteStream, line: string): Promise<void> {
  if (!stream.write(line)) await once(stream, 'drain');
}
