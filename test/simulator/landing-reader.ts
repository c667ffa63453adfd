import { gunzipSync } from 'node:zlib';
import { generateLanding, type GenerateOptionsInput, type GenerateSummary } from '../../simulator/index.ts';

/** A run of the simulator into memory, with the sink's put order. */
export interface LandingRun {
  readonly objects: Map<string, Buffer>;
  readonly putOrder: string[];
  readonly summary: GenerateSummary;
}

export async function runInMemory(options: GenerateOptionsInput): Promise<LandingRun> {
  const objects = new Map<string, Buffer>();
  const putOrder: string[] = [];
  const summary = await generateLanding(
    {
      async put(key, body) {
        if (objects.has(key)) throw new Error(`key written twice: ${key}`);
        objects.set(key, body);
        putOrder.push(key);
      },
    },
    options,
  );
  return { objects, putOrder, summary };
}

export const KEY_PATTERN =
  /^landing\/(tasks|users)\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/medallion-(tasks|users)-cdc-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})(\.gz)?$/;

/** The arrival time a key names (second resolution). */
export function keyArrivalMs(key: string): number {
  const match = KEY_PATTERN.exec(key);
  if (!match) throw new Error(`not a landing key: ${key}`);
  const [, , , , , , , year, month, day, hour, minute, second] = match;
  return Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
}

export function sourceOfKey(key: string): 'tasks' | 'users' {
  return key.includes('/tasks/') ? 'tasks' : 'users';
}

export function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

export function objectText(body: Buffer): string {
  return (isGzip(body) ? gunzipSync(body) : body).toString('utf8');
}

/** Where the JSON value starting at `start` ends (exclusive), counting `{`/`}` depth outside strings. */
function endOfObject(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let index = start; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return index + 1;
  }
  return text.length;
}

/** Splits an object's text into records as docs/semantics.md says the lake does. */
export function splitRecords(text: string): { records: string[]; newlineDelimited: boolean } {
  const firstStart = text.search(/\S/);
  if (firstStart < 0) return { records: [], newlineDelimited: false };
  const firstEnd = endOfObject(text, firstStart);
  if (text[firstEnd] === '\n') {
    return { records: text.split('\n').filter((line) => line.trim() !== ''), newlineDelimited: true };
  }
  const records: string[] = [];
  let start = firstStart;
  while (start >= 0 && start < text.length) {
    const end = endOfObject(text, start);
    records.push(text.slice(start, end));
    const next = text.slice(end).search(/\S/);
    start = next < 0 ? -1 : end + next;
  }
  return { records, newlineDelimited: false };
}

export interface LandingRecord {
  readonly key: string;
  readonly source: 'tasks' | 'users';
  readonly index: number;
  readonly text: string;
}

/** Every record of every object, objects in key order (which is arrival order), records in object order. */
export function readLanding(objects: ReadonlyMap<string, Buffer>): LandingRecord[] {
  const out: LandingRecord[] = [];
  for (const key of [...objects.keys()].sort(compareKeys)) {
    const { records } = splitRecords(objectText(objects.get(key) ?? Buffer.alloc(0)));
    records.forEach((text, index) => out.push({ key, source: sourceOfKey(key), index, text }));
  }
  return out;
}

export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface GoodRecord {
  readonly eventId: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventTimeUs: number;
  readonly keys: JsonObject;
  readonly newImage: JsonObject | undefined;
  readonly oldImage: JsonObject | undefined;
  readonly record: JsonObject;
}

export type Verdict = { reason: 'ok'; good: GoodRecord } | { reason: string };

const KEY_NAMES = { tasks: ['userId', 'taskId'], users: ['userId'] } as const;

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** docs/semantics.md's bronze envelope checks, then silver typing: the first failure's reason code, or 'ok'. */
export function classify(text: string, source: 'tasks' | 'users'): Verdict {
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    return { reason: 'invalid_json' };
  }
  if (!isObject(parsed)) return { reason: 'not_an_object' };
  const eventId = parsed.eventID;
  if (typeof eventId !== 'string' || eventId === '') return { reason: 'missing_event_id' };
  const eventName = parsed.eventName;
  if (eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE') return { reason: 'unknown_event_name' };
  const dynamodb = isObject(parsed.dynamodb) ? parsed.dynamodb : {};
  const time = dynamodb.ApproximateCreationDateTime;
  if (typeof time !== 'number') return { reason: 'missing_event_time' };
  const keys = dynamodb.Keys;
  if (!isObject(keys)) return { reason: 'missing_key' };
  for (const name of KEY_NAMES[source]) {
    const value = keys[name];
    if (!isObject(value) || typeof value.S !== 'string' || value.S === '' || Object.keys(value).length !== 1) return { reason: 'missing_key' };
  }
  const precision = dynamodb.ApproximateCreationDateTimePrecision;
  const eventTimeUs =
    precision === 'MICROSECOND' ? time : precision === 'MILLISECOND' ? time * 1000 : time > 1e14 ? time : time > 1e11 ? time * 1000 : time * 1e6;
  const newImage = isObject(dynamodb.NewImage) ? dynamodb.NewImage : undefined;
  const oldImage = isObject(dynamodb.OldImage) ? dynamodb.OldImage : undefined;
  if (eventName !== 'REMOVE') {
    if (newImage === undefined) return { reason: 'missing_new_image' };
    const typingFailure = typeImage(newImage, source);
    if (typingFailure !== undefined) return { reason: typingFailure };
  }
  return { reason: 'ok', good: { eventId, eventName, eventTimeUs, keys, newImage, oldImage, record: parsed } };
}

type Rule = { name: string; tag: 'S' | 'N' | 'SS'; required: boolean; check?: (value: Json) => string | undefined };

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const checkTimestamp = (value: Json): string | undefined => {
  const match = typeof value === 'string' ? TIMESTAMP.exec(value) : null;
  if (!match || Number.isNaN(Date.parse(value as string))) return 'invalid_timestamp';
  const [, year, month, day] = match;
  return realDate(`${year}-${month}-${day}`) ? undefined : 'invalid_timestamp';
};
function realDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

const RULES: Record<'tasks' | 'users', Rule[]> = {
  tasks: [
    { name: 'title', tag: 'S', required: true },
    { name: 'status', tag: 'S', required: true, check: (v) => (['todo', 'in_progress', 'done'].includes(v as string) ? undefined : 'invalid_status') },
    { name: 'priority', tag: 'N', required: false, check: (v) => (/^[1-4]$/.test(v as string) ? undefined : 'invalid_priority') },
    { name: 'dueDate', tag: 'S', required: false, check: (v) => (realDate(v as string) ? undefined : 'invalid_date') },
    { name: 'tags', tag: 'SS', required: false },
    { name: 'createdAt', tag: 'S', required: true, check: checkTimestamp },
    { name: 'updatedAt', tag: 'S', required: true, check: checkTimestamp },
    { name: 'completedAt', tag: 'S', required: false, check: checkTimestamp },
  ],
  users: [
    { name: 'email', tag: 'S', required: true },
    { name: 'name', tag: 'S', required: true },
    { name: 'plan', tag: 'S', required: true, check: (v) => (['free', 'pro', 'team'].includes(v as string) ? undefined : 'invalid_plan') },
    { name: 'createdAt', tag: 'S', required: true, check: checkTimestamp },
    { name: 'country', tag: 'S', required: false },
  ],
};

function typeImage(image: JsonObject, source: 'tasks' | 'users'): string | undefined {
  for (const rule of RULES[source]) {
    const attribute = image[rule.name];
    if (attribute === undefined || (isObject(attribute) && attribute.NULL === true)) {
      if (rule.required) return 'missing_attribute';
      continue;
    }
    if (!isObject(attribute) || !(rule.tag in attribute)) return 'wrong_attribute_type';
    const failure = rule.check?.(attribute[rule.tag] ?? null);
    if (failure !== undefined) return failure;
  }
  return undefined;
}

/** Every record of a run, classified. */
export function classifyLanding(objects: ReadonlyMap<string, Buffer>): (LandingRecord & { verdict: Verdict })[] {
  return readLanding(objects).map((record) => ({ ...record, verdict: classify(record.text, record.source) }));
}

export function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[keyOf(item)] = (counts[keyOf(item)] ?? 0) + 1;
  return counts;
}
