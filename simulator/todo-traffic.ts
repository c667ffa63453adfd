import { ActionQueue } from './action-queue.ts';
import type { CdcEvent, EventName } from './cdc-event.ts';
import { hourlyActivity } from './daily-rhythm.ts';
import { MAX_ARRIVAL_DELAY_MS, MAX_OUT_OF_ORDER_GAP_MS, MIN_ARRIVAL_DELAY_MS, OUT_OF_ORDER_MARGIN_MS } from './delivery-timing.ts';
import type { GenerateOptions } from './generate-options.ts';
import { SeededRandom } from './seeded-random.ts';
import { MAX_EVENTS_PER_TASK, planNextStep, stepCode, stepOfCode, type TaskStep } from './task-lifecycle.ts';
import {
  COMPLETED_ABSENT,
  COMPLETED_NULL,
  COMPLETED_SET,
  NO_DUE_DAY,
  NO_PRIORITY,
  NO_STEP,
  STATUS_DONE,
  STATUS_IN_PROGRESS,
  STATUS_TODO,
  TaskTable,
} from './task-table.ts';
import { COUNTRIES, FIRST_NAMES, LAST_NAMES, PLAN_WEIGHTS, TAGS, TASK_TITLES } from './todo-vocabulary.ts';
import { NO_COUNTRY, UserTable } from './user-table.ts';
import { epochDayOf, MS_PER_HOUR, MS_PER_MINUTE, utcMidnightMs } from './utc-time.ts';

const ACTION_SIGN_UP = 0;
const ACTION_CREATE_TASK = 1;
const ACTION_TASK_STEP = 2;
const ACTION_CHANGE_PLAN = 3;
const ACTION_REMOVE_USER = 4;

// Most users exist early (a launch, or the import of an existing user base) so that tasks have owners;
// the rest trickle in over the period, following the daily rhythm.
const EARLY_SIGN_UP_HOURS = 6;
const EARLY_SIGN_UP_SHARE = 0.6;
const PLAN_CHANGES_PER_USER_DAY = 0.01;
const REMOVALS_PER_USER_DAY = 0.001;
/** A user's events are at least this far apart, so their event times never tie. */
const MIN_USER_EVENT_GAP_MS = MS_PER_MINUTE;

/** Priority 1..4; most tasks are middling. */
const PRIORITY_WEIGHTS = [0.15, 0.4, 0.3, 0.15];

/** An item as it was before a change: the change's OldImage and its share of SizeBytes. */
interface ImageBefore {
  readonly json: string;
  readonly sizeBytes: number;
}

/**
 * The Todo API's users and their tasks, simulated hour by hour. Each hour's actions run in time order
 * and turn into change events with consistent images; steps scheduled later wait in per-hour lists,
 * so memory holds the item state (typed arrays) and one hour of actions, never the event history.
 *
 * Random streams are split by concern: the traffic (what happens), event ids, arrival delays, and the
 * out-of-order fault. So a run with faults has exactly the good events of the same seed without them.
 */
export class TodoTraffic {
  readonly hourCount: number;
  readonly periodStartMs: number;
  private readonly periodEndMs: number;
  private readonly users: UserTable;
  private readonly tasks: TaskTable;
  private readonly random: SeededRandom;
  private readonly eventIds: SeededRandom;
  private readonly arrivals: SeededRandom;
  private readonly outOfOrder: SeededRandom;
  private readonly signUpsByHour: Uint32Array;
  /** Tasks whose next step falls in each hour. Each task waits in at most one list. */
  private readonly stepsByHour: (number[] | undefined)[];
  private queue = new ActionQueue();
  private currentHourEndMs = 0;
  private creationCarry = 0;
  private sequence = 0;
  private aliveUsers = 0;
  /** Out-of-order faults owed: grows by faultRate per task event, paid when an event qualifies. */
  private outOfOrderDebt = 0;
  outOfOrderInjected = 0;
  firstEventMs = Number.POSITIVE_INFINITY;
  lastEventMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly options: GenerateOptions,
    private readonly emit: (event: CdcEvent) => void,
  ) {
    this.hourCount = options.days * 24;
    this.periodStartMs = utcMidnightMs(options.start);
    this.periodEndMs = this.periodStartMs + this.hourCount * MS_PER_HOUR;
    this.users = new UserTable(options.users, options.idSpace);
    this.tasks = new TaskTable(options.idSpace);
    this.random = new SeededRandom(options.seed, 'traffic');
    // Event ids of their own for each start and id space: days added to a lake never repeat one.
    this.eventIds = new SeededRandom(options.seed, `event-ids:${options.start}:${options.idSpace}`);
    this.arrivals = new SeededRandom(options.seed, 'arrival-delays');
    this.outOfOrder = new SeededRandom(options.seed, 'out-of-order');
    this.signUpsByHour = this.planSignUps();
    this.stepsByHour = new Array<number[] | undefined>(this.hourCount);
  }

  hourEndMs(hour: number): number {
    return this.periodStartMs + (hour + 1) * MS_PER_HOUR;
  }

  /** Runs one hour; every event it emits has an event time in [hour start, next hour) and arrives after it. */
  generateHour(hour: number): void {
    const startMs = this.periodStartMs + hour * MS_PER_HOUR;
    this.currentHourEndMs = startMs + MS_PER_HOUR;
    const queue = (this.queue = new ActionQueue());
    const random = this.random;
    const at = (): number => startMs + Math.floor(random.next() * MS_PER_HOUR);

    for (let count = this.signUpsByHour[hour] ?? 0; count > 0; count--) queue.push(at(), ACTION_SIGN_UP, 0);

    const activity = hourlyActivity(startMs);
    this.creationCarry += (this.options.tasksPerDay / 24) * activity * (0.8 + 0.4 * random.next());
    const creations = Math.floor(this.creationCarry);
    this.creationCarry -= creations;
    for (let count = creations; count > 0; count--) queue.push(at(), ACTION_CREATE_TASK, 0);

    const perUserHour = activity / 24;
    for (let count = Math.floor(this.aliveUsers * PLAN_CHANGES_PER_USER_DAY * perUserHour + random.next()); count > 0; count--) {
      queue.push(at(), ACTION_CHANGE_PLAN, 0);
    }
    for (let count = Math.floor(this.aliveUsers * REMOVALS_PER_USER_DAY * perUserHour + random.next()); count > 0; count--) {
      queue.push(at(), ACTION_REMOVE_USER, 0);
    }

    for (const task of this.stepsByHour[hour] ?? []) queue.push(this.tasks.nextStepAtMs[task] ?? startMs, ACTION_TASK_STEP, task);
    this.stepsByHour[hour] = undefined;

    for (let action = queue.pop(); action !== undefined; action = queue.pop()) {
      switch (action.kind) {
        case ACTION_SIGN_UP:
          this.signUp(action.atMs);
          break;
        case ACTION_CREATE_TASK:
          this.createTask(action.atMs);
          break;
        case ACTION_TASK_STEP:
          this.takeStep(action.subject, action.atMs);
          break;
        case ACTION_CHANGE_PLAN:
          this.changePlan(action.atMs);
          break;
        case ACTION_REMOVE_USER:
          this.removeUser(action.atMs);
          break;
      }
    }
  }

  /** Sign-ups per hour, summing to exactly `users`. */
  private planSignUps(): Uint32Array {
    const hours = this.hourCount;
    const earlyHours = Math.min(EARLY_SIGN_UP_HOURS, hours);
    const earlyShare = hours > earlyHours ? EARLY_SIGN_UP_SHARE : 1;
    const weights = new Float64Array(hours);
    let laterActivity = 0;
    for (let hour = earlyHours; hour < hours; hour++) laterActivity += hourlyActivity(this.periodStartMs + hour * MS_PER_HOUR);
    for (let hour = 0; hour < hours; hour++) {
      weights[hour] =
        hour < earlyHours
          ? earlyShare / earlyHours
          : ((1 - earlyShare) * hourlyActivity(this.periodStartMs + hour * MS_PER_HOUR)) / laterActivity;
    }
    const counts = new Uint32Array(hours);
    let cumulative = 0;
    let assigned = 0;
    for (let hour = 0; hour < hours; hour++) {
      cumulative += (weights[hour] ?? 0) * this.options.users;
      const count = Math.round(cumulative) - assigned;
      counts[hour] = count;
      assigned += count;
    }
    return counts;
  }

  private signUp(atMs: number): void {
    const users = this.users;
    if (users.signedUp >= users.capacity) return;
    const random = this.random;
    const user = users.signedUp++;
    users.firstName[user] = random.int(0, FIRST_NAMES.length - 1);
    users.lastName[user] = random.int(0, LAST_NAMES.length - 1);
    users.plan[user] = random.weightedIndex(PLAN_WEIGHTS);
    users.country[user] = random.chance(0.85) ? random.int(0, COUNTRIES.length - 1) : NO_COUNTRY;
    users.createdAtMs[user] = atMs;
    this.aliveUsers++;
    this.emitUserEvent(user, 'INSERT', atMs, undefined);
  }

  private changePlan(atMs: number): void {
    const user = this.pickChangeableUser(atMs);
    if (user === undefined) return;
    const old = this.userBefore(user);
    const plan = this.users.plan[user] ?? 0;
    this.users.plan[user] = (plan + 1 + this.random.int(0, 1)) % PLAN_WEIGHTS.length;
    this.emitUserEvent(user, 'MODIFY', atMs, old);
  }

  private removeUser(atMs: number): void {
    const user = this.pickChangeableUser(atMs);
    if (user === undefined) return;
    const old = this.userBefore(user);
    this.users.removed[user] = 1;
    this.aliveUsers--;
    this.emitUserEvent(user, 'REMOVE', atMs, old);
  }

  private pickChangeableUser(atMs: number): number | undefined {
    const users = this.users;
    if (users.signedUp === 0) return undefined;
    const user = this.random.int(0, users.signedUp - 1);
    if (users.removed[user] === 1 || atMs < (users.lastEventMs[user] ?? 0) + MIN_USER_EVENT_GAP_MS) return undefined;
    return user;
  }

  /** Long-standing users own more tasks than newcomers; removed users create none. */
  private pickOwner(): number | undefined {
    const signedUp = this.users.signedUp;
    if (signedUp === 0) return undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const user = Math.floor(signedUp * this.random.next() ** 1.3);
      if (this.users.removed[user] !== 1) return user;
    }
    return undefined;
  }

  private createTask(atMs: number): void {
    const owner = this.pickOwner();
    if (owner === undefined) return;
    const random = this.random;
    const tasks = this.tasks;
    const task = tasks.add(owner, atMs);
    tasks.titleIndex[task] = random.int(0, TASK_TITLES.length - 1);
    tasks.status[task] = STATUS_TODO;
    if (random.chance(0.7)) tasks.priority[task] = 1 + random.weightedIndex(PRIORITY_WEIGHTS);
    if (random.chance(0.6)) {
      // Some tasks are due before they are even written down, so overdue tasks exist from day one.
      const offsetDays = random.chance(0.12) ? -random.int(1, 5) : random.int(0, 14);
      tasks.dueDay[task] = epochDayOf(atMs) + offsetDays;
    }
    if (random.chance(0.5)) {
      let mask = 0;
      for (let count = random.int(1, 3); count > 0; count--) mask |= 1 << random.int(0, TAGS.length - 1);
      tasks.tagMask[task] = mask;
    }
    this.emitTaskEvent(task, 'INSERT', atMs, undefined, false);
  }

  private takeStep(task: number, atMs: number): void {
    const tasks = this.tasks;
    const random = this.random;
    const step: TaskStep | undefined = stepOfCode(tasks.nextStep[task] ?? NO_STEP);
    tasks.nextStep[task] = NO_STEP;
    if (step === undefined || tasks.removed[task] === 1) return;
    const userId = this.users.userId(tasks.ownerIndex[task] ?? 0);
    const old: ImageBefore = { json: tasks.imageJson(task, userId), sizeBytes: tasks.imageSizeBytes(task, userId) };
    switch (step) {
      case 'edit':
        this.editTask(task, atMs);
        break;
      case 'start':
        tasks.status[task] = STATUS_IN_PROGRESS;
        break;
      case 'complete':
        tasks.status[task] = STATUS_DONE;
        tasks.completedAtMs[task] = atMs;
        tasks.completedState[task] = COMPLETED_SET;
        break;
      case 'reopen':
        tasks.status[task] = random.chance(0.6) ? STATUS_TODO : STATUS_IN_PROGRESS;
        // Some clients remove the attribute, others set it to NULL.
        tasks.completedState[task] = random.chance(0.5) ? COMPLETED_ABSENT : COMPLETED_NULL;
        break;
      case 'delete': {
        // Half of the finished tasks that disappear are expired by the table's TTL, not deleted by a user.
        const byTtl = tasks.status[task] === STATUS_DONE && random.chance(0.5);
        tasks.removed[task] = 1;
        this.emitTaskEvent(task, 'REMOVE', atMs, old, byTtl);
        return;
      }
    }
    tasks.updatedAtMs[task] = atMs;
    this.emitTaskEvent(task, 'MODIFY', atMs, old, false);
  }

  private editTask(task: number, atMs: number): void {
    const tasks = this.tasks;
    const random = this.random;
    switch (random.weightedIndex([0.3, 0.25, 0.3, 0.15])) {
      case 0:
        tasks.titleIndex[task] = ((tasks.titleIndex[task] ?? 0) + random.int(1, TASK_TITLES.length - 1)) % TASK_TITLES.length;
        break;
      case 1: {
        const priority = tasks.priority[task] ?? NO_PRIORITY;
        if (priority === NO_PRIORITY) tasks.priority[task] = 1 + random.weightedIndex(PRIORITY_WEIGHTS);
        else if (random.chance(0.2)) tasks.priority[task] = NO_PRIORITY;
        else tasks.priority[task] = ((priority - 1 + random.int(1, 3)) % 4) + 1;
        break;
      }
      case 2: {
        const dueDay = tasks.dueDay[task] ?? NO_DUE_DAY;
        if (dueDay === NO_DUE_DAY) tasks.dueDay[task] = epochDayOf(atMs) + random.int(1, 10);
        else if (random.chance(0.15)) tasks.dueDay[task] = NO_DUE_DAY;
        else tasks.dueDay[task] = dueDay + random.int(1, 7);
        break;
      }
      default:
        // Toggling one tag; removing the last one removes the attribute.
        tasks.tagMask[task] = (tasks.tagMask[task] ?? 0) ^ (1 << random.int(0, TAGS.length - 1));
    }
  }

  private userBefore(user: number): ImageBefore {
    return { json: this.users.imageJson(user), sizeBytes: this.users.imageSizeBytes(user) };
  }

  private emitUserEvent(user: number, eventName: EventName, atMs: number, old: ImageBefore | undefined): void {
    const users = this.users;
    const newImageJson = eventName === 'REMOVE' ? undefined : users.imageJson(user);
    const sizeBytes = users.keysSizeBytes(user) + (newImageJson === undefined ? 0 : users.imageSizeBytes(user)) + (old?.sizeBytes ?? 0);
    const eventId = this.eventIds.uuid();
    const arrivalMs = Math.max(atMs + this.arrivalDelayMs(), users.lastArrivalMs[user] ?? 0);
    users.lastArrivalMs[user] = arrivalMs;
    users.lastEventMs[user] = atMs;
    this.publish({
      source: 'users',
      sequence: this.sequence++,
      eventId,
      eventName,
      eventTimeMs: atMs,
      arrivalMs,
      keysJson: users.keysJson(user),
      newImageJson,
      oldImageJson: old?.json,
      sizeBytes,
      deletedByTtl: false,
      pinnedInOrder: false,
    });
  }

  private emitTaskEvent(task: number, eventName: EventName, atMs: number, old: ImageBefore | undefined, deletedByTtl: boolean): void {
    const tasks = this.tasks;
    const userId = this.users.userId(tasks.ownerIndex[task] ?? 0);
    const newImageJson = eventName === 'REMOVE' ? undefined : tasks.imageJson(task, userId);
    const sizeBytes =
      tasks.keysSizeBytes(userId) + (newImageJson === undefined ? 0 : tasks.imageSizeBytes(task, userId)) + (old?.sizeBytes ?? 0);
    const eventId = this.eventIds.uuid();
    let arrivalMs = Math.max(atMs + this.arrivalDelayMs(), tasks.lastArrivalMs[task] ?? 0);

    const eventCount = (tasks.eventCount[task] ?? 0) + 1;
    tasks.eventCount[task] = eventCount;
    const next =
      eventName === 'REMOVE' || eventCount >= MAX_EVENTS_PER_TASK ? undefined : planNextStep(tasks.status[task] ?? STATUS_TODO, atMs, this.random);
    const nextAtMs = this.schedule(task, next);

    const pinnedInOrder = tasks.nextEventPinned[task] === 1;
    tasks.nextEventPinned[task] = 0;
    if (this.options.faultRate > 0) {
      this.outOfOrderDebt = Math.min(this.outOfOrderDebt + this.options.faultRate, 3);
      // Hold this record back until the key's next event has surely landed in an earlier object. The
      // next event is pinned: it may not itself be held back, nor sit in a late object.
      if (this.outOfOrderDebt >= 1 && !pinnedInOrder && nextAtMs !== undefined && nextAtMs - atMs <= MAX_OUT_OF_ORDER_GAP_MS) {
        this.outOfOrderDebt -= 1;
        this.outOfOrderInjected++;
        tasks.nextEventPinned[task] = 1;
        arrivalMs = nextAtMs + OUT_OF_ORDER_MARGIN_MS + this.outOfOrder.int(0, 4 * MS_PER_MINUTE);
      } else {
        tasks.lastArrivalMs[task] = arrivalMs;
      }
    } else {
      tasks.lastArrivalMs[task] = arrivalMs;
    }

    this.publish({
      source: 'tasks',
      sequence: this.sequence++,
      eventId,
      eventName,
      eventTimeMs: atMs,
      arrivalMs,
      keysJson: tasks.keysJson(task, userId),
      newImageJson,
      oldImageJson: old?.json,
      sizeBytes,
      deletedByTtl,
      pinnedInOrder,
    });
  }

  /** Queues the task's next step; returns its time, or undefined when nothing more happens within the period. */
  private schedule(task: number, next: { step: TaskStep; atMs: number } | undefined): number | undefined {
    if (next === undefined || next.atMs >= this.periodEndMs) return undefined;
    this.tasks.nextStep[task] = stepCode(next.step);
    this.tasks.nextStepAtMs[task] = next.atMs;
    if (next.atMs < this.currentHourEndMs) {
      this.queue.push(next.atMs, ACTION_TASK_STEP, task);
    } else {
      const hour = Math.floor((next.atMs - this.periodStartMs) / MS_PER_HOUR);
      (this.stepsByHour[hour] ??= []).push(task);
    }
    return next.atMs;
  }

  /** Mostly a few seconds, now and then most of a minute. */
  private arrivalDelayMs(): number {
    const draw = this.arrivals.next();
    return MIN_ARRIVAL_DELAY_MS + Math.floor((MAX_ARRIVAL_DELAY_MS - MIN_ARRIVAL_DELAY_MS) * draw * draw);
  }

  private publish(event: CdcEvent): void {
    if (event.eventTimeMs < this.firstEventMs) this.firstEventMs = event.eventTimeMs;
    if (event.eventTimeMs > this.lastEventMs) this.lastEventMs = event.eventTimeMs;
    this.emit(event);
  }
}
