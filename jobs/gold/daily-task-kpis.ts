import { defineJob, defineTable, tableSource } from '../../core/index.ts';
import { KEY_ORDER } from './task-event-order.ts';


export const dailyTaskKpisTable = defineTable({
  name: 'gold.daily_task_kpis',
  description: 'Task KPIs per UTC day, every day from the first to the last effective Tasks event.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [
    { name: 'dt', type: 'DATE', description: 'The UTC date.' },
    { name: 'tasks_created', type: 'BIGINT', description: 'INSERT events on dt.' },
    { name: 'tasks_completed', type: 'BIGINT', description: "Completions on dt: events whose new status is done while the key's previous effective event had another status, or none." },
    { name: 'tasks_deleted', type: 'BIGINT', description: 'REMOVE events on dt.' },
    { name: 'active_users', type: 'BIGINT', description: 'Distinct users with any effective Tasks event on dt.' },
    { name: 'open_tasks_eod', type: 'BIGINT', description: 'Tasks existing at the end of dt whose status is not done.' },
    { name: 'overdue_tasks_eod', type: 'BIGINT', description: 'Open tasks at the end of dt whose due_date is before dt.' },
    { name: 'median_hours_to_complete', type: 'DOUBLE', description: "Median (interpolated) hours from the key's earliest INSERT to each completion on dt; NULL when none." },
  ],
});

/** Each event of `events` with what came before and after it for the same key, in event order. */
function orderedSql(events: string): string {
  return `
    SELECT user_id, task_id, event_name, event_ts, event_date AS d, status, due_date,
           lag(status) OVER key_order AS previous_status,
           lead(event_date) OVER key_order AS next_d
    FROM ${events}
    WINDOW key_order AS (${KEY_ORDER})`;
}

/**
 * One KPI row per day from `bounds.first_d` to `bounds.last_d`, computed from the keys in `ordered` (their
 * whole histories): a key's state after its last event holds until last_d.
 */
function kpiRowsSql(ordered: string, bounds: string): string {
  return `
    WITH days AS (
      SELECT unnest(generate_series(first_d, last_d, INTERVAL 1 DAY))::DATE AS dt FROM ${bounds} WHERE first_d IS NOT NULL AND first_d <= last_d
    ), daily AS (
      SELECT d AS dt,
             count(*) FILTER (WHERE event_name = 'INSERT') AS tasks_created,
             count(*) FILTER (WHERE event_name = 'REMOVE') AS tasks_deleted,
             count(DISTINCT user_id) AS active_users
      FROM ${ordered} GROUP BY d
    ), first_insert AS (
      SELECT user_id, task_id, min(event_ts) AS inserted_ts FROM ${ordered} WHERE event_name = 'INSERT' GROUP BY user_id, task_id
    ), completions AS (
      SELECT o.d AS dt, count(*) AS tasks_completed,
             quantile_cont((epoch_us(o.event_ts) - epoch_us(f.inserted_ts)) / 3600000000.0, 0.5) AS median_hours_to_complete
      FROM ${ordered} AS o LEFT JOIN first_insert AS f USING (user_id, task_id)
      WHERE o.status = 'done' AND o.previous_status IS DISTINCT FROM 'done'
      GROUP BY o.d
    ), open_spans AS (
      -- A key's state after an event holds from that event's date until the day before its next event's date.
      SELECT o.d AS from_d, coalesce(o.next_d - 1, b.last_d) AS to_d, o.due_date
      FROM ${ordered} AS o, ${bounds} AS b
      WHERE o.event_name <> 'REMOVE' AND o.status <> 'done'
    ), open_changes AS (
      SELECT from_d AS dt, 1 AS open_delta, 0 AS overdue_delta FROM open_spans WHERE from_d <= to_d
      UNION ALL SELECT to_d + 1, -1, 0 FROM open_spans WHERE from_d <= to_d
      UNION ALL SELECT greatest(from_d, due_date + 1), 0, 1 FROM open_spans WHERE due_date IS NOT NULL AND greatest(from_d, due_date + 1) <= to_d
      UNION ALL SELECT to_d + 1, 0, -1 FROM open_spans WHERE due_date IS NOT NULL AND greatest(from_d, due_date + 1) <= to_d
    ), changes_by_day AS (
      SELECT dt, sum(open_delta) AS open_delta, sum(overdue_delta) AS overdue_delta FROM open_changes GROUP BY dt
    )
    SELECT days.dt,
           coalesce(daily.tasks_created, 0) AS tasks_created,
           coalesce(completions.tasks_completed, 0) AS tasks_completed,
           coalesce(daily.tasks_deleted, 0) AS tasks_deleted,
           coalesce(daily.active_users, 0) AS active_users,
           sum(coalesce(changes_by_day.open_delta, 0)) OVER running AS open_tasks_eod,
           sum(coalesce(changes_by_day.overdue_delta, 0)) OVER running AS overdue_tasks_eod,
           completions.median_hours_to_complete
    FROM days
    LEFT JOIN daily USING (dt)
    LEFT JOIN completions USING (dt)
    LEFT JOIN changes_by_day USING (dt)
    WINDOW running AS (ORDER BY days.dt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;
}

/**
 * gold.daily_task_kpis from silver.task_events (docs/semantics.md, "Gold").
 *
 * A bookmarked run after silver only appended events recomputes the days from `start_d` on, where
 * start_d is the first day the new events can change: the earliest new event's date (or the day after
 * the last day already computed, when that is earlier), moved back to a key's first event when a new
 * INSERT becomes that key's earliest (its completions' hours change). Days before start_d stay as
 * committed. From start_d on, every event belongs to a key with an event on or after start_d (the
 * "recomputed" keys), whose whole histories are read again; the other keys' contribution is carried
 * from the committed row of start_d - 1: their open count stays as it was, and those still open (found
 * in silver.tasks, read as a snapshot) become overdue as their due dates pass.
 */
export const dailyTaskKpisJob = defineJob({
  name: 'gold.daily_task_kpis',
  description: 'Daily task KPIs for analysts: created, completed, deleted, active users, open and overdue at end of day, median hours to complete.',
  sources: { events: tableSource('silver.task_events'), tasks: tableSource('silver.tasks', { snapshot: true }) },
  outputs: [dailyTaskKpisTable],
  incremental: true,
  transform: ({ mode, input, step, delta, before, previous }) => {
    if (mode === 'full') {
      return {
        steps: [
          { name: 'ordered', sql: orderedSql(input('events')) },
          { name: 'bounds', sql: `SELECT min(d) AS first_d, max(d) AS last_d FROM ${step('ordered')}` },
        ],
        outputs: { 'gold.daily_task_kpis': `${kpiRowsSql(step('ordered'), step('bounds'))} ORDER BY days.dt` },
      };
    }
    const kpis = previous('gold.daily_task_kpis');
    return {
      steps: [
        {
          name: 'window',
          sql: `
            WITH new_inserts AS (
              SELECT user_id, task_id, min(event_ts) AS inserted_ts FROM ${delta('events')} WHERE event_name = 'INSERT' GROUP BY user_id, task_id
            ), earlier_keys AS (
              SELECT user_id, task_id, min(event_date) AS first_d, min(event_ts) FILTER (WHERE event_name = 'INSERT') AS inserted_ts
              FROM ${before('events')} SEMI JOIN new_inserts USING (user_id, task_id) GROUP BY user_id, task_id
            )
            SELECT least(
                     (SELECT min(event_date) FROM ${delta('events')}),
                     (SELECT max(dt) + 1 FROM ${kpis}),
                     (SELECT min(k.first_d) FROM earlier_keys AS k JOIN new_inserts AS n USING (user_id, task_id)
                      WHERE k.inserted_ts IS NULL OR n.inserted_ts < k.inserted_ts)) AS start_d,
                   greatest((SELECT max(dt) FROM ${kpis}), (SELECT max(event_date) FROM ${delta('events')})) AS last_d`,
        },
        {
          name: 'recomputed_keys',
          sql: `SELECT DISTINCT user_id, task_id FROM ${input('events')} WHERE event_date >= (SELECT start_d FROM ${step('window')})`,
        },
        {
          // Keys with no event from start_d on, open at the end of start_d - 1 with a due date not yet passed
          // then. Their last event came before start_d, so their state then is their current state in
          // silver.tasks (committed with the events): a deleted key is absent, an open one is there.
          name: 'carried_open',
          sql: `
            SELECT due_date FROM ${input('tasks')}
            ANTI JOIN ${step('recomputed_keys')} USING (user_id, task_id)
            WHERE status <> 'done' AND due_date >= (SELECT start_d - 1 FROM ${step('window')})`,
        },
        { name: 'ordered', sql: orderedSql(`(SELECT * FROM ${input('events')} SEMI JOIN ${step('recomputed_keys')} USING (user_id, task_id))`) },
        {
          name: 'bounds',
          sql: `SELECT least((SELECT min(d) FROM ${step('ordered')}), w.start_d - 1) AS first_d, w.last_d FROM ${step('window')} AS w WHERE w.start_d IS NOT NULL`,
        },
        { name: 'recomputed', sql: kpiRowsSql(step('ordered'), step('bounds')) },
      ],
      outputs: {
        'gold.daily_task_kpis': `
          SELECT * FROM ${kpis} WHERE dt < (SELECT coalesce(start_d, DATE '9999-12-31') FROM ${step('window')})
          UNION ALL
          SELECT r.dt, r.tasks_created, r.tasks_completed, r.tasks_deleted, r.active_users,
                 coalesce(committed.open_tasks_eod, 0) - coalesce(r_before.open_tasks_eod, 0) + r.open_tasks_eod AS open_tasks_eod,
                 coalesce(committed.overdue_tasks_eod, 0) - coalesce(r_before.overdue_tasks_eod, 0) + r.overdue_tasks_eod
                   + (SELECT count(*) FROM ${step('carried_open')} AS c WHERE c.due_date < r.dt) AS overdue_tasks_eod,
                 r.median_hours_to_complete
          FROM ${step('recomputed')} AS r
          CROSS JOIN ${step('window')} AS w
          LEFT JOIN ${kpis} AS committed ON committed.dt = w.start_d - 1
          LEFT JOIN ${step('recomputed')} AS r_before ON r_before.dt = w.start_d - 1
          WHERE r.dt >= w.start_d`,
      },
    };
  },
});
