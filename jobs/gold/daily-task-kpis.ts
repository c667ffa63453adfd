import { defineJob, defineTable, tableSource } from '../../core/index.ts';

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

/** gold.daily_task_kpis from silver.task_events (docs/semantics.md, "Gold"). */
export const dailyTaskKpisJob = defineJob({
  name: 'gold.daily_task_kpis',
  description: 'Daily task KPIs for analysts: created, completed, deleted, active users, open and overdue at end of day, median hours to complete.',
  sources: { events: tableSource('silver.task_events') },
  outputs: [dailyTaskKpisTable],
  transform: ({ input, step }) => ({
    steps: [
      {
        // Each event with what came before and after it for the same key, in event order.
        name: 'ordered',
        sql: `
          SELECT user_id, task_id, event_name, event_ts, event_date AS d, status, due_date,
                 lag(status) OVER key_order AS previous_status,
                 lead(event_date) OVER key_order AS next_d
          FROM ${input('events')}
          WINDOW key_order AS (PARTITION BY user_id, task_id ORDER BY event_ts, _source_object, _record_index)`,
      },
      { name: 'bounds', sql: `SELECT min(d) AS first_d, max(d) AS last_d FROM ${step('ordered')}` },
    ],
    outputs: {
      'gold.daily_task_kpis': `
        WITH days AS (
          SELECT unnest(generate_series(first_d, last_d, INTERVAL 1 DAY))::DATE AS dt FROM ${step('bounds')} WHERE first_d IS NOT NULL
        ), daily AS (
          SELECT d AS dt,
                 count(*) FILTER (WHERE event_name = 'INSERT') AS tasks_created,
                 count(*) FILTER (WHERE event_name = 'REMOVE') AS tasks_deleted,
                 count(DISTINCT user_id) AS active_users
          FROM ${step('ordered')} GROUP BY d
        ), first_insert AS (
          SELECT user_id, task_id, min(event_ts) AS inserted_ts FROM ${step('ordered')} WHERE event_name = 'INSERT' GROUP BY user_id, task_id
        ), completions AS (
          SELECT o.d AS dt, count(*) AS tasks_completed,
                 quantile_cont((epoch_us(o.event_ts) - epoch_us(f.inserted_ts)) / 3600000000.0, 0.5) AS median_hours_to_complete
          FROM ${step('ordered')} AS o LEFT JOIN first_insert AS f USING (user_id, task_id)
          WHERE o.status = 'done' AND o.previous_status IS DISTINCT FROM 'done'
          GROUP BY o.d
        ), open_spans AS (
          -- A key's state after an event holds from that event's date until the day before its next event's date.
          SELECT o.d AS from_d, coalesce(o.next_d - 1, b.last_d) AS to_d, o.due_date
          FROM ${step('ordered')} AS o, ${step('bounds')} AS b
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
        WINDOW running AS (ORDER BY days.dt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ORDER BY days.dt`,
    },
  }),
});
