import { TAGS, TASK_TITLES } from './todo-vocabulary.ts';
import { isoDateOfDay, isoTimestamp } from './utc-time.ts';

export const TASK_STATUSES = ['todo', 'in_progress', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const STATUS_TODO = 0;
export const STATUS_IN_PROGRESS = 1;
export const STATUS_DONE = 2;

/** `completedAt` is absent, holds a time, or was cleared to `{"NULL": true}` when the task was reopened. */
export const COMPLETED_ABSENT = 0;
export const COMPLETED_SET = 1;
export const COMPLETED_NULL = 2;

export const NO_PRIORITY = 0;
export const NO_DUE_DAY = -2_147_483_648;
export const NO_STEP = 0;

const TITLE_JSON = TASK_TITLES.map((title) => JSON.stringify(title));
const tagsJsonByMask = new Map<number, { json: string; sizeBytes: number }>();

/**
 * Every task's current item, one typed array per attribute (a million tasks cost about 60 MB, not the
 * gigabytes of a million images), rendered back into a DynamoDB image on demand. Rendering is the only
 * way images are made, so a MODIFY's OldImage is byte for byte the previous event's NewImage.
 * Images are rendered straight to JSON text: at a million events, building and stringifying object
 * graphs was most of the simulator's time.
 */
export class TaskTable {
  constructor(readonly idSpace = 0) {}

  size = 0;
  ownerIndex = new Uint32Array(0);
  titleIndex = new Uint16Array(0);
  status = new Uint8Array(0);
  removed = new Uint8Array(0);
  priority = new Uint8Array(0);
  dueDay = new Int32Array(0);
  /** Bit i set: the task carries TAGS[i]. Zero means no `tags` attribute (a string set cannot be empty). */
  tagMask = new Uint16Array(0);
  createdAtMs = new Float64Array(0);
  updatedAtMs = new Float64Array(0);
  completedAtMs = new Float64Array(0);
  completedState = new Uint8Array(0);
  eventCount = new Uint8Array(0);
  /** Arrival of the task's last in-order record; later records never arrive before it. */
  lastArrivalMs = new Float64Array(0);
  nextStep = new Uint8Array(0);
  nextStepAtMs = new Float64Array(0);
  /** The task's next event must stay in order: an earlier event was delayed to arrive after it. */
  nextEventPinned = new Uint8Array(0);

  /** Appends a task and returns its index; every attribute starts absent or zero. */
  add(ownerIndex: number, createdAtMs: number): number {
    if (this.size === this.ownerIndex.length) this.grow(Math.max(1024, this.size * 2));
    const index = this.size++;
    this.ownerIndex[index] = ownerIndex;
    this.createdAtMs[index] = createdAtMs;
    this.updatedAtMs[index] = createdAtMs;
    this.dueDay[index] = NO_DUE_DAY;
    return index;
  }

  /** `t-0000001`; in a later generation's id space, `t-<space>-0000001`. */
  taskId(index: number): string {
    return `t-${this.idSpace > 0 ? `${this.idSpace}-` : ''}${String(index + 1).padStart(7, '0')}`;
  }

  /** `{"userId":{"S":...},"taskId":{"S":...}}` */
  keysJson(index: number, userId: string): string {
    return `{"userId":{"S":"${userId}"},"taskId":{"S":"${this.taskId(index)}"}}`;
  }

  /** The item as DynamoDB JSON, attributes in a fixed order; optional ones only when present. */
  imageJson(index: number, userId: string): string {
    let json = `{"userId":{"S":"${userId}"},"taskId":{"S":"${this.taskId(index)}"},"title":{"S":${TITLE_JSON[this.titleIndex[index] ?? 0]}},"status":{"S":"${TASK_STATUSES[this.status[index] ?? 0]}"}`;
    const priority = this.priority[index] ?? NO_PRIORITY;
    if (priority !== NO_PRIORITY) json += `,"priority":{"N":"${priority}"}`;
    const dueDay = this.dueDay[index] ?? NO_DUE_DAY;
    if (dueDay !== NO_DUE_DAY) json += `,"dueDate":{"S":"${isoDateOfDay(dueDay)}"}`;
    const tagMask = this.tagMask[index] ?? 0;
    if (tagMask !== 0) json += `,"tags":{"SS":${tagsOf(tagMask).json}}`;
    json += `,"createdAt":{"S":"${isoTimestamp(this.createdAtMs[index] ?? 0)}"},"updatedAt":{"S":"${isoTimestamp(this.updatedAtMs[index] ?? 0)}"}`;
    const completedState = this.completedState[index] ?? COMPLETED_ABSENT;
    if (completedState === COMPLETED_SET) json += `,"completedAt":{"S":"${isoTimestamp(this.completedAtMs[index] ?? 0)}"}`;
    else if (completedState === COMPLETED_NULL) json += `,"completedAt":{"NULL":true}`;
    return `${json}}`;
  }

  /** DynamoDB's item size (attribute names plus values) of the keys alone. */
  keysSizeBytes(userId: string): number {
    return 'userId'.length + userId.length + 'taskId'.length + 9;
  }

  /** DynamoDB's item size (attribute names plus values) of the current item; numbers count as in DynamoDB. */
  imageSizeBytes(index: number, userId: string): number {
    let sizeBytes = this.keysSizeBytes(userId);
    sizeBytes += 'title'.length + (TASK_TITLES[this.titleIndex[index] ?? 0]?.length ?? 0);
    sizeBytes += 'status'.length + (TASK_STATUSES[this.status[index] ?? 0]?.length ?? 0);
    if ((this.priority[index] ?? NO_PRIORITY) !== NO_PRIORITY) sizeBytes += 'priority'.length + 2;
    if ((this.dueDay[index] ?? NO_DUE_DAY) !== NO_DUE_DAY) sizeBytes += 'dueDate'.length + 10;
    const tagMask = this.tagMask[index] ?? 0;
    if (tagMask !== 0) sizeBytes += 'tags'.length + tagsOf(tagMask).sizeBytes;
    sizeBytes += 'createdAt'.length + 24 + 'updatedAt'.length + 24;
    const completedState = this.completedState[index] ?? COMPLETED_ABSENT;
    if (completedState !== COMPLETED_ABSENT) sizeBytes += 'completedAt'.length + (completedState === COMPLETED_SET ? 24 : 1);
    return sizeBytes;
  }

  private grow(capacity: number): void {
    const resize = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(array: T, make: (n: number) => T): T => {
      const bigger = make(capacity);
      bigger.set(array);
      return bigger;
    };
    this.ownerIndex = resize(this.ownerIndex, (n) => new Uint32Array(n));
    this.titleIndex = resize(this.titleIndex, (n) => new Uint16Array(n));
    this.status = resize(this.status, (n) => new Uint8Array(n));
    this.removed = resize(this.removed, (n) => new Uint8Array(n));
    this.priority = resize(this.priority, (n) => new Uint8Array(n));
    this.dueDay = resize(this.dueDay, (n) => new Int32Array(n));
    this.tagMask = resize(this.tagMask, (n) => new Uint16Array(n));
    this.createdAtMs = resize(this.createdAtMs, (n) => new Float64Array(n));
    this.updatedAtMs = resize(this.updatedAtMs, (n) => new Float64Array(n));
    this.completedAtMs = resize(this.completedAtMs, (n) => new Float64Array(n));
    this.completedState = resize(this.completedState, (n) => new Uint8Array(n));
    this.eventCount = resize(this.eventCount, (n) => new Uint8Array(n));
    this.lastArrivalMs = resize(this.lastArrivalMs, (n) => new Float64Array(n));
    this.nextStep = resize(this.nextStep, (n) => new Uint8Array(n));
    this.nextStepAtMs = resize(this.nextStepAtMs, (n) => new Float64Array(n));
    this.nextEventPinned = resize(this.nextEventPinned, (n) => new Uint8Array(n));
  }
}

/** The string set for a tag mask, in vocabulary order (DynamoDB does not sort sets; the lake must). */
function tagsOf(mask: number): { json: string; sizeBytes: number } {
  let tags = tagsJsonByMask.get(mask);
  if (tags === undefined) {
    const members = TAGS.filter((_, bit) => (mask & (1 << bit)) !== 0);
    tags = { json: JSON.stringify(members), sizeBytes: members.reduce((sum, tag) => sum + tag.length, 0) };
    tagsJsonByMask.set(mask, tags);
  }
  return tags;
}
