/**
 * Independent oracle for the reference (Todo API) pipeline.
 *
 * Reads the landing zone of a lake with plain node:fs / node:zlib and computes, in memory, what the
 * bronze, silver and gold tables must contain according to docs/semantics.md. It deliberately shares
 * no code with core/, jobs/ or simulator/ so that tests comparing the SQL jobs' output with this
 * computation catch mistakes in either.
 *
 * Precision: timestamps are bigint microseconds since the Unix epoch (UTC); dates are 'YYYY-MM-DD'.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type Source = 'tasks' | 'users';
export const SOURCES: readonly Source[] = ['tasks', 'users'];

export type EventName = 'INSERT' | 'MODIFY' | 'REMOVE';

export type BronzeReason =
  | 'firehose_error'
  | 'corrupt_gzip'
  | 'record_too_large'
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_event_id'
  | 'unknown_event_name'
  | 'missing_event_time'
  | 'missing_key'
  | 'invalid_sequence_number';

export type SilverReason =
  | 'missing_new_image'
  | 'unknown_attribute'
  | 'wrong_attribute_type'
  | 'missing_attribute'
  | 'invalid_status'
  | 'invalid_priority'
  | 'invalid_date'
  | 'invalid_timestamp'
  | 'invalid_plan'
  /** A later copy of an eventID whose content (name, time, keys, image, sequence number) differs from the first. */
  | 'conflicting_duplicate';

/** One bronze row (the columns tests usually compare, plus the raw envelope parts). */
export interface BronzeRow {
  event_id: string;
  event_name: EventName;
  /** `ApproximateCreationDateTime` scaled to whole microseconds since the epoch. */
  event_ts_us: bigint;
  /** Landing object key relative to the lake root, '/'-separated: `landing/tasks/2025/11/01/00/...`. */
  source_object: string;
  record_index: number;
  /** Arrival date from the object's key folders. */
  ingest_date: string;
  /** `tableName`, else the table named in `eventSourceARN`, else null. */
  table_name: string | null;
  /** `dynamodb.SizeBytes` when it is a number, else null. */
  size_bytes: number | null;
  /** dynamodb.SequenceNumber left-padded with zeros to 40 digits; null when absent. */
  sequence_number: string | null;
  /** `dynamodb.Keys`, `dynamodb.NewImage`, `dynamodb.OldImage` as parsed JSON (null when absent). */
  keys: unknown;
  new_image: unknown;
  old_image: unknown;
  /** A REMOVE made by DynamoDB's TTL: `userIdentity` is `{type: "Service", principalId: "dynamodb.amazonaws.com"}`. */
  deleted_by_ttl: boolean;
}

/** A landing record quarantined by the bronze envelope checks. */
export interface BronzeQuarantined {
  source_object: string;
  record_index: number;
  ingest_date: string;
  reason: BronzeReason;
}

export interface BronzeExpected {
  /** Landing records (good or bad, including the extra `corrupt_gzip` records). */
  records: number;
  /** Bronze rows (records that passed the envelope checks). */
  rows: number;
  /** Quarantined records by reason code (only reasons that occur). */
  quarantined: Partial<Record<BronzeReason, number>>;
  /** The bronze rows in (source_object, record_index) order. */
  table: BronzeRow[];
  /** The quarantined records in (source_object, record_index) order. */
  quarantine: BronzeQuarantined[];
}

interface EventBase {
  event_id: string;
  event_name: EventName;
  event_ts_us: bigint;
  /** UTC date of event_ts (the silver partition `event_date`). */
  event_date: string;
  /** The bronze row's sequence_number (40 digits), null for Kinesis records. */
  sequence_number: string | null;
  source_object: string;
  record_index: number;
  deleted_by_ttl: boolean;
}

export type TaskStatus = 'todo' | 'in_progress' | 'done';
export type UserPlan = 'free' | 'pro' | 'team';

/** A typed Tasks event (image columns are null for REMOVE). Also the shape of a current-state row. */
export interface TaskEvent extends EventBase {
  user_id: string;
  task_id: string;
  title: string | null;
  status: TaskStatus | null;
  priority: number | null;
  due_date: string | null;
  /** Sorted by code point (= byte order of UTF-8). */
  tags: string[] | null;
  created_at: bigint | null;
  updated_at: bigint | null;
  completed_at: bigint | null;
}

/** A typed Users event (image columns are null for REMOVE). Also the shape of a current-state row. */
export interface UserEvent extends EventBase {
  user_id: string;
  email: string | null;
  name: string | null;
  plan: UserPlan | null;
  country: string | null;
  created_at: bigint | null;
}

/** A bronze row that failed silver typing. */
export interface SilverQuarantined {
  event_id: string;
  event_name: EventName;
  source_object: string;
  record_index: number;
  reason: SilverReason;
}

export interface SilverExpected<E> {
  effective: number;
  duplicates: number;
  quarantined: Partial<Record<SilverReason, number>>;
  quarantine: SilverQuarantined[];
  /** Effective events in (source_object, record_index) order. */
  events: E[];
  /**
   * Current state: the last effective event of each key in event order, keys whose last event is a
   * REMOVE left out; sorted by key (user_id[, task_id]). The `_event_id`, `_event_ts`,
   * `_source_object`, `_record_index` columns are the row's event_id, event_ts_us, source_object,
   * record_index.
   */
  current: E[];
  /**
   * Every version of every key (SCD2): each effective event opens a version valid from its event_ts until
   * the next event of the key in event order (null for the last); a REMOVE makes a deleted version. Sorted
   * by key, then event order.
   */
  history: (E & { is_deleted: boolean; is_current: boolean; valid_from_us: bigint; valid_to_us: bigint | null })[];
}

export interface DailyTaskKpi {
  dt: string;
  tasks_created: number;
  tasks_completed: number;
  tasks_deleted: number;
  active_users: number;
  open_tasks_eod: number;
  overdue_tasks_eod: number;
  median_hours_to_complete: number | null;
}

export interface ActiveUsers {
  dt: string;
  dau: number;
  wau: number;
  mau: number;
}

export interface UserKpi {
  user_id: string;
  plan: UserPlan | null;
  country: string | null;
  tasks_total: number;
  tasks_open: number;
  tasks_done: number;
  completion_rate: number | null;
  avg_hours_to_complete: number | null;
  last_active_date: string | null;
  tasks_timed: number;
  /** Exact, as the engine returns a DECIMAL: its digits. */
  microseconds_to_complete: string;
}

export interface Expected {
  bronze: Record<Source, BronzeExpected>;
  silver: { tasks: SilverExpected<TaskEvent>; users: SilverExpected<UserEvent> };
  gold: { daily_task_kpis: DailyTaskKpi[]; active_users: ActiveUsers[]; user_kpis: UserKpi[] };
}

export interface OracleOptions {
  /**
   * What happens to a partial record at the end of the text decoded from a broken gzip stream
   * (a record whose end had not been decoded yet when the stream broke):
   * - 'separate' (default, as docs/semantics.md reads): it is a record of its own (usually `invalid_json`),
   *   followed by the `corrupt_gzip` record;
   * - 'merge': it is part of what could not be decoded, i.e. of the one `corrupt_gzip` record.
   */
  brokenGzipTail?: 'merge' | 'separate';
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

export async function computeExpected(lakeDir: string, options: OracleOptions = {}): Promise<Expected> {
  const tail = options.brokenGzipTail ?? 'separate';
  const bronzeTasks = await computeBronze(lakeDir, 'tasks', tail);
  const bronzeUsers = await computeBronze(lakeDir, 'users', tail);
  const silverTasks = computeSilver(bronzeTasks.table, TASKS_SPEC);
  const silverUsers = computeSilver(bronzeUsers.table, USERS_SPEC);
  return {
    bronze: { tasks: bronzeTasks, users: bronzeUsers },
    silver: { tasks: silverTasks, users: silverUsers },
    gold: {
      daily_task_kpis: computeDailyTaskKpis(silverTasks.events),
      active_users: computeActiveUsers(silverTasks.events),
      user_kpis: computeUserKpis(silverUsers.current, silverTasks.current, silverTasks.events),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers: string order, dates, timestamps, numbers
// ---------------------------------------------------------------------------------------------

/** Compares strings by Unicode code point (the order of their UTF-8 bytes, as SQL engines do). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate (code point >= 0x10000) sorts after any BMP unit >= 0xE000 in code point order.
    if (xs !== ys && (xs ? y >= 0xe000 : x >= 0xe000)) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const US_PER_SECOND = 1_000_000n;
const US_PER_DAY = 86_400_000_000n;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n)).padStart(width, '0');
  return n < 0 ? `-${s}` : s;
}

export function formatDay(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function isRealDate(y: number, m: number, d: number): boolean {
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A valid `YYYY-MM-DD` calendar date (years 0001-9999), else null. */
export function parseDate(s: string): string | null {
  const m = DATE_RE.exec(s);
  if (!m) return null;
  return isRealDate(Number(m[1]), Number(m[2]), Number(m[3])) ? s : null;
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)` to UTC microseconds since the epoch; null when the
 * text does not match or is not a real instant (calendar date, hour 00-23, minute and second 00-59,
 * offset hours 00-23 and minutes 00-59).
 */
export function parseTimestampUs(s: string): bigint | null {
  const m = TS_RE.exec(s);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number, number, number, number, number, number,
  ];
  if (!isRealDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return null;
  let offsetSeconds = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetSeconds = (m[9] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const fraction = BigInt((m[7] ?? '').padEnd(6, '0'));
  const localSeconds = BigInt(daysFromCivil(year, month, day)) * 86_400n + BigInt(hour * 3600 + minute * 60 + second);
  return (localSeconds - BigInt(offsetSeconds)) * US_PER_SECOND + fraction;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** Days since the epoch of the UTC date of a microsecond timestamp. */
export function dayOfUs(us: bigint): number {
  return Number(floorDiv(us, US_PER_DAY));
}

export function dateOfUs(us: bigint): string {
  return formatDay(dayOfUs(us));
}

/**
 * `round(x * 10^exp)` for a finite JS number, computed exactly on the number's decimal form
 * (its shortest round-trip representation, i.e. what the JSON text said), half away from zero.
 */
export function scaleRound(x: number, exp: number): bigint {
  if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (!m) throw new Error(`unexpected number form: ${String(x)}`);
  const negative = m[1] === '-';
  const intPart = m[2] ?? '0';
  const fracPart = m[3] ?? '';
  const mantissa = BigInt(intPart + fracPart);
  const k = Number(m[4] ?? '0') - fracPart.length + exp; // value * 10^exp = mantissa * 10^k
  let result: bigint;
  if (k >= 0) {
    result = mantissa * 10n ** BigInt(k);
  } else {
    const div = 10n ** BigInt(-k);
    result = mantissa / div;
    if ((mantissa % div) * 2n >= div) result += 1n; // half away from zero (on the magnitude)
  }
  return negative ? -result : result;
}

/** `ApproximateCreationDateTime` to microseconds, per docs/semantics.md (precision field, else magnitude). */
export function eventTimeToUs(value: number, precision: unknown): bigint {
  let exp: number;
  if (precision === 'MICROSECOND') exp = 0;
  else if (precision === 'MILLISECOND') exp = 3;
  else if (value > 1e14) exp = 0;
  else if (value > 1e11) exp = 3;
  else exp = 6;
  return scaleRound(value, exp);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bump<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

// ---------------------------------------------------------------------------------------------
// Landing: objects, gzip, record splitting
// ---------------------------------------------------------------------------------------------

interface LandingObject {
  /** Relative to the lake root, '/'-separated. */
  key: string;
  absPath: string;
  ingestDate: string;
}

async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// Firehose's error output sits under landing/<source>/errors/<error type>/ before the time folders.
const OBJECT_KEY_RE = /^landing\/(tasks|users)\/(?:errors\/[^/]+\/)?(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/[^/]+$/;

async function listLandingObjects(lakeDir: string, source: Source): Promise<LandingObject[]> {
  const files = await listFiles(path.join(lakeDir, 'landing', source));
  const objects = files.map((absPath): LandingObject => {
    const key = path.relative(lakeDir, absPath).split(path.sep).join('/');
    const m = OBJECT_KEY_RE.exec(key);
    if (!m) {
      throw new Error(`oracle: landing object key does not follow landing/<source>/YYYY/MM/DD/HH/<name>: ${key}`);
    }
    return { key, absPath, ingestDate: `${m[2]}-${m[3]}-${m[4]}` };
  });
  return objects.sort((a, b) => compareStrings(a.key, b.key));
}

/**
 * Decodes one or more gzip members one after another. Returns everything decoded and whether the
 * stream broke (bad header, corrupt or truncated data, CRC/size mismatch, or trailing bytes that are
 * neither another member nor zero padding).
 */
export function gunzipMembers(buf: Buffer): { data: Buffer; broken: boolean } {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] !== 0x1f || buf[pos + 1] !== 0x8b) {
      // Trailing zero padding after a complete member is tolerated (as gzip(1) and zlib do).
      const rest = buf.subarray(pos);
      return { data: Buffer.concat(out), broken: pos === 0 || rest.some((b) => b !== 0) };
    }
    const dataStart = gzipHeaderEnd(buf, pos);
    if (dataStart < 0) return { data: Buffer.concat(out), broken: true };
    const body = buf.subarray(dataStart);
    let decoded: Buffer;
    let consumed: number;
    try {
      const r = zlib.inflateRawSync(body, { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      decoded = r.buffer;
      consumed = r.engine.bytesWritten;
    } catch {
      out.push(inflateLongestPrefix(body));
      return { data: Buffer.concat(out), broken: true };
    }
    out.push(decoded);
    const trailer = dataStart + consumed;
    if (trailer + 8 > buf.length) return { data: Buffer.concat(out), broken: true };
    const crc = buf.readUInt32LE(trailer);
    const isize = buf.readUInt32LE(trailer + 4);
    if (crc !== zlib.crc32(decoded) || isize !== decoded.length % 2 ** 32) {
      return { data: Buffer.concat(out), broken: true };
    }
    pos = trailer + 8;
  }
  return { data: Buffer.concat(out), broken: false };
}

/** Offset of the deflate data after the gzip header at `pos`, or -1 when the header is bad or cut. */
function gzipHeaderEnd(buf: Buffer, pos: number): number {
  if (pos + 10 > buf.length) return -1;
  const method = buf[pos + 2];
  const flags = buf[pos + 3] ?? 0;
  if (method !== 8 || (flags & 0xe0) !== 0) return -1;
  let p = pos + 10;
  if (flags & 0x04) {
    if (p + 2 > buf.length) return -1;
    p += 2 + buf.readUInt16LE(p);
  }
  for (const flag of [0x08, 0x10]) {
    if (flags & flag) {
      const zero = buf.indexOf(0, p);
      if (zero < 0) return -1;
      p = zero + 1;
    }
  }
  if (flags & 0x02) {
    if (p + 2 > buf.length) return -1;
    if ((zlib.crc32(buf.subarray(pos, p)) & 0xffff) !== buf.readUInt16LE(p)) return -1;
    p += 2;
  }
  return p > buf.length ? -1 : p;
}

/** What a raw inflate decodes before it hits an error: the output of the longest error-free prefix. */
function inflateLongestPrefix(body: Buffer): Buffer {
  const attempt = (n: number): Buffer | null => {
    try {
      return zlib.inflateRawSync(body.subarray(0, n), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch {
      return null;
    }
  };
  // Truncation only: with a sync flush, everything present decodes without error.
  const whole = attempt(body.length);
  if (whole !== null) return whole;
  // Corrupt data: an error found in the first n bytes is found in any longer prefix, so bisect.
  let lo = 0; // attempt(lo) succeeds (the empty prefix always does)
  let hi = body.length; // attempt(hi) fails
  let best: Buffer = Buffer.alloc(0);
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    const r = attempt(mid);
    if (r === null) hi = mid;
    else {
      lo = mid;
      best = r;
    }
  }
  return best;
}

interface RawRecord {
  text: string;
  /** False for a record whose end was not seen (ran to the end of the text). */
  complete: boolean;
}

function isJsonWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isJsonWs(s.charCodeAt(i))) return false;
  return true;
}

/**
 * End (exclusive) of the JSON value starting at `start` in concatenated text, or -1 when it never closes
 * (docs/semantics.md, Landing): `{`/`[` values end where the depth of {}[] outside strings returns to zero,
 * strings at their closing quote, anything else before the next whitespace, `{`, `[` or `"`.
 */
function scanValueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === 0x7b || first === 0x5b) {
    let depth = 0;
    let inString = false;
    let escaped = false;
    for (let j = start; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  if (first === 0x22) {
    let escaped = false;
    for (let j = start + 1; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) return j + 1;
    }
    return -1;
  }
  let j = start + 1;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (isJsonWs(c) || c === 0x7b || c === 0x5b || c === 0x22) break;
    j++;
  }
  return j;
}

/** Splits an object's decoded text into records (docs/semantics.md, Landing). */
export function splitRecords(text: string): RawRecord[] {
  let contentEnd = text.length;
  while (contentEnd > 0 && isJsonWs(text.charCodeAt(contentEnd - 1))) contentEnd--;
  const firstNewline = text.indexOf('\n');
  const records: RawRecord[] = [];
  if (firstNewline >= 0 && firstNewline < contentEnd) {
    const lines = text.split('\n');
    lines.forEach((line, n) => {
      const withoutCr = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (!isBlank(withoutCr)) records.push({ text: withoutCr, complete: n < lines.length - 1 });
    });
    return records;
  }
  let i = 0;
  for (;;) {
    while (i < text.length && isJsonWs(text.charCodeAt(i))) i++;
    if (i >= text.length) return records;
    const end = scanValueEnd(text, i);
    if (end < 0) {
      records.push({ text: text.slice(i), complete: false });
      return records;
    }
    records.push({ text: text.slice(i, end), complete: true });
    i = end;
  }
}

/** The records of one landing object; `null` text marks the `corrupt_gzip` record. */
export function objectRecords(bytes: Buffer, brokenGzipTail: 'merge' | 'separate' = 'separate'): (string | null)[] {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const { data, broken } = gunzipMembers(bytes);
    const records = splitRecords(withoutByteOrderMark(data.toString('utf8')));
    if (!broken) return records.map((r) => r.text);
    const kept = brokenGzipTail === 'merge' ? records.filter((r) => r.complete) : records;
    return [...kept.map((r) => r.text), null];
  }
  return splitRecords(withoutByteOrderMark(bytes.toString('utf8'))).map((r) => r.text);
}

/** A UTF-8 byte-order mark opening an object is an encoding marker, not part of its first record. */
function withoutByteOrderMark(text: string): string {
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

// ---------------------------------------------------------------------------------------------
// Bronze
// ---------------------------------------------------------------------------------------------

const KEY_ATTRIBUTES: Record<Source, readonly string[]> = { tasks: ['userId', 'taskId'], users: ['userId'] };
const EVENT_NAMES: ReadonlySet<string> = new Set(['INSERT', 'MODIFY', 'REMOVE']);

type EnvelopeResult = { ok: true; row: Omit<BronzeRow, 'source_object' | 'record_index' | 'ingest_date'> } | { ok: false; reason: BronzeReason };

export function checkEnvelope(text: string | null, source: Source, objectKey = ''): EnvelopeResult {
  // Whatever Firehose could not deliver, under landing/<source>/errors/, is never data.
  if (objectKey.startsWith(`landing/${source}/errors/`)) return { ok: false, reason: 'firehose_error' };
  if (text === null) return { ok: false, reason: 'corrupt_gzip' };
  if (Buffer.byteLength(text, 'utf8') > 3 * 1024 * 1024) return { ok: false, reason: 'record_too_large' };
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid_json' };
  }
  if (!isPlainObject(rec)) return { ok: false, reason: 'not_an_object' };
  const eventId = rec['eventID'];
  // A Firehose error record (errorCode and rawData, no eventID) in the data folders.
  if (typeof eventId !== 'string' && typeof rec['errorCode'] === 'string' && rec['rawData'] !== undefined) return { ok: false, reason: 'firehose_error' };
  if (typeof eventId !== 'string' || eventId.length === 0) return { ok: false, reason: 'missing_event_id' };
  const eventName = rec['eventName'];
  if (typeof eventName !== 'string' || !EVENT_NAMES.has(eventName)) return { ok: false, reason: 'unknown_event_name' };
  const ddb = isPlainObject(rec['dynamodb']) ? rec['dynamodb'] : undefined;
  const time = ddb?.['ApproximateCreationDateTime'];
  if (typeof time !== 'number') return { ok: false, reason: 'missing_event_time' };
  const keys = ddb?.['Keys'];
  for (const attr of KEY_ATTRIBUTES[source]) {
    const v = isPlainObject(keys) ? keys[attr] : undefined;
    const s = isPlainObject(v) ? v['S'] : undefined;
    if (typeof s !== 'string' || s.length === 0) return { ok: false, reason: 'missing_key' };
  }
  const sequence = ddb?.['SequenceNumber'];
  if (sequence !== undefined && sequence !== null && !(typeof sequence === 'string' && /^[0-9]{1,40}$/.test(sequence))) {
    return { ok: false, reason: 'invalid_sequence_number' };
  }
  return {
    ok: true,
    row: {
      event_id: eventId,
      event_name: eventName as EventName,
      event_ts_us: eventTimeToUs(time, ddb?.['ApproximateCreationDateTimePrecision']),
      table_name: tableName(rec),
      size_bytes: typeof ddb?.['SizeBytes'] === 'number' ? ddb['SizeBytes'] : null,
      sequence_number: typeof sequence === 'string' ? sequence.padStart(40, '0') : null,
      keys: keys ?? null,
      new_image: ddb?.['NewImage'] ?? null,
      old_image: ddb?.['OldImage'] ?? null,
      deleted_by_ttl: eventName === 'REMOVE' && isTtlIdentity(rec['userIdentity']),
    },
  };
}

function isTtlIdentity(identity: unknown): boolean {
  return isPlainObject(identity) && identity['type'] === 'Service' && identity['principalId'] === 'dynamodb.amazonaws.com';
}

function tableName(rec: Record<string, unknown>): string | null {
  const t = rec['tableName'];
  if (typeof t === 'string') return t;
  const arn = rec['eventSourceARN'];
  if (typeof arn === 'string') {
    const m = /:table\/([^/]+)/.exec(arn);
    if (m) return m[1] ?? null;
  }
  return null;
}

async function computeBronze(lakeDir: string, source: Source, tail: 'merge' | 'separate'): Promise<BronzeExpected> {
  const result: BronzeExpected = { records: 0, rows: 0, quarantined: {}, table: [], quarantine: [] };
  for (const obj of await listLandingObjects(lakeDir, source)) {
    const bytes = await fsp.readFile(obj.absPath);
    objectRecords(bytes, tail).forEach((text, recordIndex) => {
      result.records++;
      const placed = { source_object: obj.key, record_index: recordIndex, ingest_date: obj.ingestDate };
      const checked = checkEnvelope(text, source, obj.key);
      if (checked.ok) {
        result.table.push({ ...checked.row, ...placed });
      } else {
        bump(result.quarantined, checked.reason);
        result.quarantine.push({ ...placed, reason: checked.reason });
      }
    });
  }
  result.rows = result.table.length;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Silver
// ---------------------------------------------------------------------------------------------

type Tag = 'S' | 'N' | 'SS';
type Typed = { ok: true; value: unknown } | { ok: false; reason: SilverReason };

interface AttributeSpec {
  attribute: string;
  column: string;
  tag: Tag;
  required: boolean;
  /** Validates / converts the payload; returns null when the value is invalid. */
  convert?: (payload: string | string[]) => unknown;
  invalid?: SilverReason;
}

interface SourceSpec<E> {
  keyColumns: readonly (keyof E & string)[];
  attributes: readonly AttributeSpec[];
  /** A frozen schema: image attributes other than these and `attributes` quarantine the event (unknown_attribute). */
  frozen?: { otherAttributes: readonly string[] };
}

const asString = (p: string | string[]): unknown => p;
const TASKS_SPEC: SourceSpec<TaskEvent> = {
  keyColumns: ['user_id', 'task_id'],
  attributes: [
    { attribute: 'title', column: 'title', tag: 'S', required: true, convert: asString },
    {
      attribute: 'status', column: 'status', tag: 'S', required: true, invalid: 'invalid_status',
      convert: (p) => (p === 'todo' || p === 'in_progress' || p === 'done' ? p : null),
    },
    {
      attribute: 'priority', column: 'priority', tag: 'N', required: false, invalid: 'invalid_priority',
      convert: (p) => (typeof p === 'string' && /^0*[1-4]$/.test(p) ? Number(p) : null),
    },
    {
      attribute: 'dueDate', column: 'due_date', tag: 'S', required: false, invalid: 'invalid_date',
      convert: (p) => (typeof p === 'string' ? parseDate(p) : null),
    },
    {
      attribute: 'tags', column: 'tags', tag: 'SS', required: false,
      convert: (p) => (Array.isArray(p) ? [...p].sort(compareStrings) : null),
    },
    timestampAttr('createdAt', 'created_at', true),
    timestampAttr('updatedAt', 'updated_at', true),
    timestampAttr('completedAt', 'completed_at', false),
  ],
};

const USERS_SPEC: SourceSpec<UserEvent> = {
  keyColumns: ['user_id'],
  frozen: { otherAttributes: ['userId'] },
  attributes: [
    { attribute: 'email', column: 'email', tag: 'S', required: true, convert: asString },
    { attribute: 'name', column: 'name', tag: 'S', required: true, convert: asString },
    {
      attribute: 'plan', column: 'plan', tag: 'S', required: true, invalid: 'invalid_plan',
      convert: (p) => (p === 'free' || p === 'pro' || p === 'team' ? p : null),
    },
    timestampAttr('createdAt', 'created_at', true),
    { attribute: 'country', column: 'country', tag: 'S', required: false, convert: asString },
  ],
};

function timestampAttr(attribute: string, column: string, required: boolean): AttributeSpec {
  return {
    attribute, column, tag: 'S', required, invalid: 'invalid_timestamp',
    convert: (p) => (typeof p === 'string' ? parseTimestampUs(p) : null),
  };
}

/** Types one attribute of a new image (missing or `{"NULL": true}` is NULL). */
function typeAttribute(image: Record<string, unknown>, spec: AttributeSpec): Typed {
  const av = Object.hasOwn(image, spec.attribute) ? image[spec.attribute] : undefined;
  const isNull = av === undefined || (isPlainObject(av) && Object.keys(av).length === 1 && av['NULL'] === true);
  if (isNull) return spec.required ? { ok: false, reason: 'missing_attribute' } : { ok: true, value: null };
  // An attribute value is an object with exactly one type tag whose payload has the tag's JSON type.
  const tags = isPlainObject(av) ? Object.keys(av) : [];
  const payload = isPlainObject(av) ? av[spec.tag] : undefined;
  const payloadOk =
    spec.tag === 'SS'
      ? Array.isArray(payload) && payload.every((x) => typeof x === 'string')
      : typeof payload === 'string';
  if (tags.length !== 1 || tags[0] !== spec.tag || !payloadOk) return { ok: false, reason: 'wrong_attribute_type' };
  const value = spec.convert ? spec.convert(payload as string | string[]) : payload;
  if (value === null) return { ok: false, reason: spec.invalid ?? 'wrong_attribute_type' };
  return { ok: true, value };
}

function keyOf<E>(e: E, columns: readonly (keyof E & string)[]): string {
  return JSON.stringify(columns.map((c) => e[c]));
}

/**
 * Event order of one key: event_ts, then the DynamoDB Streams SequenceNumber (numeric; records without one
 * after those with one), then source_object, then record_index.
 */
export function compareEventOrder(
  a: { event_ts_us: bigint; sequence_number?: string | null; source_object: string; record_index: number },
  b: { event_ts_us: bigint; sequence_number?: string | null; source_object: string; record_index: number },
): number {
  const sa = a.sequence_number ?? null;
  const sb = b.sequence_number ?? null;
  const bySequence = sa === sb ? 0 : sa === null ? 1 : sb === null ? -1 : compareBigint(BigInt(sa), BigInt(sb));
  return (
    compareBigint(a.event_ts_us, b.event_ts_us) ||
    bySequence ||
    compareStrings(a.source_object, b.source_object) ||
    a.record_index - b.record_index
  );
}

function computeSilver<E extends EventBase>(bronzeRows: readonly BronzeRow[], spec: SourceSpec<E>): SilverExpected<E> {
  const result: SilverExpected<E> = { effective: 0, duplicates: 0, quarantined: {}, quarantine: [], events: [], current: [], history: [] };
  const sorted = [...bronzeRows].sort(
    (a, b) => compareStrings(a.source_object, b.source_object) || a.record_index - b.record_index,
  );
  const seen = new Map<string, string>();
  const contentOf = (row: BronzeRow) => JSON.stringify([row.event_name, String(row.event_ts_us), row.keys ?? null, row.new_image ?? null, row.sequence_number]);
  for (const row of sorted) {
    const first = seen.get(row.event_id);
    if (first !== undefined) {
      if (first === contentOf(row)) result.duplicates++;
      else {
        bump(result.quarantined, 'conflicting_duplicate');
        result.quarantine.push({ event_id: row.event_id, event_name: row.event_name, source_object: row.source_object, record_index: row.record_index, reason: 'conflicting_duplicate' });
      }
      continue;
    }
    seen.set(row.event_id, contentOf(row));
    const typed = typeRow(row, spec);
    if ('reason' in typed) {
      bump(result.quarantined, typed.reason);
      result.quarantine.push({
        event_id: row.event_id, event_name: row.event_name, source_object: row.source_object,
        record_index: row.record_index, reason: typed.reason,
      });
    } else {
      result.events.push(typed.event);
    }
  }
  result.effective = result.events.length;

  const last = new Map<string, E>();
  for (const e of result.events) {
    const key = keyOf(e, spec.keyColumns);
    const prev = last.get(key);
    if (!prev || compareEventOrder(e, prev) > 0) last.set(key, e);
  }
  const byKey = new Map<string, E[]>();
  for (const e of result.events) {
    const key = keyOf(e, spec.keyColumns);
    byKey.set(key, [...(byKey.get(key) ?? []), e]);
  }
  const compareKeys = (a: E, b: E): number => {
    for (const c of spec.keyColumns) {
      const d = compareStrings(String(a[c]), String(b[c]));
      if (d !== 0) return d;
    }
    return 0;
  };
  for (const events of byKey.values()) {
    const ordered = [...events].sort(compareEventOrder);
    ordered.forEach((e, index) => {
      const next = ordered[index + 1];
      result.history.push({
        ...e, is_deleted: e.event_name === 'REMOVE', is_current: next === undefined, valid_from_us: e.event_ts_us, valid_to_us: next?.event_ts_us ?? null,
      });
    });
  }
  result.history.sort((a, b) => compareKeys(a, b) || compareEventOrder(a, b));
  result.current = [...last.values()]
    .filter((e) => e.event_name !== 'REMOVE')
    .sort((a, b) => {
      for (const c of spec.keyColumns) {
        const d = compareStrings(String(a[c]), String(b[c]));
        if (d !== 0) return d;
      }
      return 0;
    });
  return result;
}

function typeRow<E extends EventBase>(row: BronzeRow, spec: SourceSpec<E>): { event: E } | { reason: SilverReason } {
  const keys = row.keys as Record<string, { S: string }>;
  const event: Record<string, unknown> = {
    event_id: row.event_id,
    event_name: row.event_name,
    event_ts_us: row.event_ts_us,
    event_date: dateOfUs(row.event_ts_us),
    deleted_by_ttl: row.deleted_by_ttl,
    user_id: keys['userId']?.S,
    ...(spec.keyColumns.includes('task_id' as keyof E & string) ? { task_id: keys['taskId']?.S } : {}),
  };
  for (const a of spec.attributes) event[a.column] = null;
  if (row.event_name !== 'REMOVE') {
    if (row.new_image === null || row.new_image === undefined) return { reason: 'missing_new_image' };
    // An image that is not a JSON object has no attributes.
    const image = isPlainObject(row.new_image) ? row.new_image : {};
    if (spec.frozen) {
      const known = new Set([...spec.attributes.map((a) => a.attribute), ...spec.frozen.otherAttributes]);
      if (Object.keys(image).some((name) => !known.has(name))) return { reason: 'unknown_attribute' };
    }
    for (const a of spec.attributes) {
      const t = typeAttribute(image, a);
      if (!t.ok) return { reason: t.reason };
      event[a.column] = t.value;
    }
  }
  event['sequence_number'] = row.sequence_number;
  event['source_object'] = row.source_object;
  event['record_index'] = row.record_index;
  return { event: event as unknown as E };
}

// ---------------------------------------------------------------------------------------------
// Gold
// ---------------------------------------------------------------------------------------------

/** quantile_cont(0.5): linear interpolation between the order statistics around (n - 1) / 2. */
export function medianCont(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) / 2;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return lo === hi ? a : a + (b - a) * (pos - lo);
}

const US_PER_HOUR = 3_600_000_000;

function computeDailyTaskKpis(events: readonly TaskEvent[]): DailyTaskKpi[] {
  if (events.length === 0) return [];
  const ordered = [...events].sort(compareEventOrder);

  // Earliest INSERT per key (least event_ts) over all effective events.
  const firstInsert = new Map<string, bigint>();
  for (const e of ordered) {
    if (e.event_name !== 'INSERT') continue;
    const k = keyOf(e, TASKS_SPEC.keyColumns);
    const cur = firstInsert.get(k);
    if (cur === undefined || e.event_ts_us < cur) firstInsert.set(k, e.event_ts_us);
  }

  interface Day { created: number; completed: number; deleted: number; users: Set<string>; hours: number[] }
  const days = new Map<number, Day>();
  const dayOf = (d: number): Day => {
    let v = days.get(d);
    if (!v) days.set(d, (v = { created: 0, completed: 0, deleted: 0, users: new Set(), hours: [] }));
    return v;
  };

  // Per-event facts: counts, completions (status 'done' after another status, a REMOVE or nothing).
  const prevStatus = new Map<string, TaskStatus | null>();
  for (const e of ordered) {
    const k = keyOf(e, TASKS_SPEC.keyColumns);
    const day = dayOf(dayOfUs(e.event_ts_us));
    day.users.add(e.user_id);
    if (e.event_name === 'INSERT') day.created++;
    if (e.event_name === 'REMOVE') day.deleted++;
    const status = e.event_name === 'REMOVE' ? null : e.status;
    if (status === 'done' && (prevStatus.get(k) ?? null) !== 'done') {
      day.completed++;
      const inserted = firstInsert.get(k);
      if (inserted !== undefined) day.hours.push(Number(e.event_ts_us - inserted) / US_PER_HOUR);
    }
    prevStatus.set(k, status);
  }

  // End-of-day state, sweeping the events in event order (event_ts first, so dates never go back).
  const firstDay = dayOfUs((ordered[0] as TaskEvent).event_ts_us);
  const lastDay = dayOfUs((ordered[ordered.length - 1] as TaskEvent).event_ts_us);
  const state = new Map<string, TaskEvent>(); // current non-REMOVE image per existing key
  const openByDue = new Map<string | null, number>(); // open keys by due_date
  const addOpen = (e: TaskEvent, delta: number): void => {
    if (e.status === 'done') return;
    openByDue.set(e.due_date, (openByDue.get(e.due_date) ?? 0) + delta);
  };
  const rows: DailyTaskKpi[] = [];
  let next = 0;
  for (let d = firstDay; d <= lastDay; d++) {
    for (; next < ordered.length; next++) {
      const e = ordered[next] as TaskEvent;
      if (dayOfUs(e.event_ts_us) > d) break;
      const k = keyOf(e, TASKS_SPEC.keyColumns);
      const before = state.get(k);
      if (before) addOpen(before, -1);
      if (e.event_name === 'REMOVE') state.delete(k);
      else {
        state.set(k, e);
        addOpen(e, +1);
      }
    }
    const dt = formatDay(d);
    let open = 0;
    let overdue = 0;
    for (const [due, n] of openByDue) {
      open += n;
      if (due !== null && compareStrings(due, dt) < 0) overdue += n;
    }
    const day = days.get(d);
    rows.push({
      dt,
      tasks_created: day?.created ?? 0,
      tasks_completed: day?.completed ?? 0,
      tasks_deleted: day?.deleted ?? 0,
      active_users: day?.users.size ?? 0,
      open_tasks_eod: open,
      overdue_tasks_eod: overdue,
      median_hours_to_complete: medianCont(day?.hours ?? []),
    });
  }
  return rows;
}

/** Per day from the first to the last effective Tasks event date: distinct users active that day, in the 7 and in the 30 days ending on it. */
function computeActiveUsers(events: readonly TaskEvent[]): ActiveUsers[] {
  if (events.length === 0) return [];
  const usersByDay = new Map<number, Set<string>>();
  for (const e of events) {
    const d = dayOfUs(e.event_ts_us);
    let users = usersByDay.get(d);
    if (!users) usersByDay.set(d, (users = new Set()));
    users.add(e.user_id);
  }
  const days = [...usersByDay.keys()];
  const first = Math.min(...days);
  const last = Math.max(...days);
  const distinctOver = (end: number, width: number): number => {
    const users = new Set<string>();
    for (let d = end - width + 1; d <= end; d++) for (const user of usersByDay.get(d) ?? []) users.add(user);
    return users.size;
  };
  const rows: ActiveUsers[] = [];
  for (let d = first; d <= last; d++) {
    rows.push({ dt: formatDay(d), dau: usersByDay.get(d)?.size ?? 0, wau: distinctOver(d, 7), mau: distinctOver(d, 30) });
  }
  return rows;
}

/**
 * One row per user of the current Users state, by user_id: their current tasks by status, the mean hours
 * from each done task's earliest INSERT to its latest completion, and the date of their latest event.
 */
function computeUserKpis(users: readonly UserEvent[], tasks: readonly TaskEvent[], events: readonly TaskEvent[]): UserKpi[] {
  const ordered = [...events].sort(compareEventOrder);
  const inserted = new Map<string, bigint>();
  const completed = new Map<string, bigint>();
  const previous = new Map<string, TaskStatus | null>();
  const lastActive = new Map<string, number>();
  for (const e of ordered) {
    const k = keyOf(e, TASKS_SPEC.keyColumns);
    if (e.event_name === 'INSERT' && (inserted.get(k) === undefined || e.event_ts_us < (inserted.get(k) as bigint))) inserted.set(k, e.event_ts_us);
    const status = e.event_name === 'REMOVE' ? null : e.status;
    if (status === 'done' && (previous.get(k) ?? null) !== 'done') completed.set(k, e.event_ts_us);
    previous.set(k, status);
    lastActive.set(e.user_id, Math.max(lastActive.get(e.user_id) ?? Number.NEGATIVE_INFINITY, dayOfUs(e.event_ts_us)));
  }
  return [...users]
    .sort((a, b) => compareStrings(a.user_id, b.user_id))
    .map((user) => {
      const own = tasks.filter((task) => task.user_id === user.user_id);
      const done = own.filter((task) => task.status === 'done');
      const spans = done.flatMap((task) => {
        const k = keyOf(task, TASKS_SPEC.keyColumns);
        const from = inserted.get(k);
        const to = completed.get(k);
        return from === undefined || to === undefined ? [] : [to - from];
      });
      const hours = spans.map((us) => Number(us) / US_PER_HOUR);
      const totalUs = spans.reduce((sum, us) => sum + us, 0n);
      const active = lastActive.get(user.user_id);
      return {
        user_id: user.user_id,
        plan: user.plan,
        country: user.country,
        tasks_total: own.length,
        tasks_open: own.length - done.length,
        tasks_done: done.length,
        completion_rate: own.length === 0 ? null : done.length / own.length,
        avg_hours_to_complete: hours.length === 0 ? null : hours.reduce((sum, value) => sum + value, 0) / hours.length,
        last_active_date: active === undefined ? null : formatDay(active),
        tasks_timed: spans.length,
        microseconds_to_complete: totalUs.toString(),
      };
    });
}
