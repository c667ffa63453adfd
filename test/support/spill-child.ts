/**
 * A child process for the spill test (a crash must not take the test runner with it): two engines of one
 * local lake spill side by side under a small memory limit, one closes while the other still spills, and
 * the other's answer must equal an unlimited engine's. Prints `same` or `different`. Usage: spill-child.ts LAKE_DIR
 */
import { DuckDbEngine } from '../../core/engine/index.ts';
import { openLocalLake } from '../../core/index.ts';

const [lakeDir] = process.argv.slice(2);
if (!lakeDir) throw new Error('usage: spill-child.ts LAKE_DIR');
// A window over keys with text payloads, as gold's event order is: far more than 64 MB, so DuckDB spills.
const windowed = (rows: number) => `
  SELECT sum(hash(previous, next)) AS h, count(*) AS n FROM (
    SELECT lag(payload) OVER key_order AS previous, lead(i) OVER key_order AS next
    FROM (SELECT i, 'u-' || (i % 50000)::VARCHAR AS k, repeat(md5(i::VARCHAR), 2) AS payload FROM range(${rows}) AS t(i))
    WINDOW key_order AS (PARTITION BY k ORDER BY i))`;
const unlimited = await DuckDbEngine.create();
const expected = JSON.stringify((await unlimited.query(windowed(3_000_000))).rows);
unlimited.close();
const lake = openLocalLake(lakeDir, { memoryLimit: '64MB', threads: 1 });
const [first, second] = [await lake.createEngine(), await lake.createEngine()];
const long = second.query(windowed(3_000_000));
await first.query(windowed(1_000_000));
first.close();
const answer = JSON.stringify((await long).rows);
second.close();
process.stdout.write(`${answer === expected ? 'same' : 'different'}\n`);
