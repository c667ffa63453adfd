import type { Lake } from '../../core/index.ts';

/** A landing object taken out of the lake, to be landed again later. */
export interface HeldObject {
  readonly key: string;
  readonly body: Buffer;
}

/**
 * Takes the landing objects that arrived on the last day (by their YYYY/MM/DD folder) out of the lake, so
 * a test can run a first night without them and land them for a second, incremental one (`landAgain`).
 */
export async function holdBackLastDay(lake: Lake): Promise<HeldObject[]> {
  const keys: string[] = [];
  for await (const object of lake.storage.list('landing/')) keys.push(object.key);
  const day = (key: string) => /\/(\d{4}\/\d{2}\/\d{2})\//.exec(key)?.[1] ?? '';
  const last = keys.map(day).sort().at(-1);
  const held = await Promise.all(keys.filter((key) => day(key) === last).map(async (key) => ({ key, body: await lake.storage.get(key) })));
  await lake.storage.delete(held.map((object) => object.key));
  return held;
}

/** Lands held objects again, under their own keys. */
export async function landAgain(lake: Lake, held: readonly HeldObject[]): Promise<void> {
  for (const object of held) await lake.storage.put(object.key, object.body);
}
