import { defineJob, defineTable, tableSource } from '../../core/index.ts';

export const userKpisTable = defineTable({
  name: 'gold.user_kpis',
  description: 'One row per user in silver.users: plan, country, their tasks by status, completion rate, hours to complete, last active date.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [
    { name: 'user_id', type: 'VARCHAR', description: 'The user (a key of silver.users).' },
    { name: 'plan', type: 'VARCHAR', description: 'The plan in silver.users.' },
    { name: 'country', type: 'VARCHAR', description: 'The country in silver.users; NULL when not given.' },
    { name: 'tasks_total', type: 'BIGINT', description: "The user's tasks in silver.tasks." },
    { name: 'tasks_open', type: 'BIGINT', description: 'Those whose status is not done.' },
    { name: 'tasks_done', type: 'BIGINT', description: 'Those whose status is done.' },
    { name: 'completion_rate', type: 'DOUBLE', description: 'tasks_done / tasks_total; NULL when the user has no task.' },
    {
      name: 'avg_hours_to_complete',
      type: 'DOUBLE',
      description: "Mean over the user's done tasks of the hours from the task's earliest INSERT event to its latest completion; tasks with no INSERT event are left out; NULL when none is left.",
    },
    { name: 'last_active_date', type: 'DATE', description: "Date of the user's latest effective Tasks event; NULL when none." },
  ],
});

/**
 * Rows for the users of `users` (rows of silver.users) from their tasks in `tasks` (silver.tasks) and
 * the task events in `events` (all events of those users' tasks).
 */
function userKpisSql(users: string, tasks: string, events: string): string {
  return `
    WITH per_key AS (
      SELECT user_id, task_id,
             min(event_ts) FILTER (WHERE event_name = 'INSERT') AS inserted_ts,
             max(event_ts) FILTER (WHERE completes) AS completed_ts,
             max(event_date) AS last_d
      FROM (
        SELECT user_id, task_id, event_name, event_ts, event_date,
               status = 'done' AND lag(status) OVER (PARTITION BY user_id, task_id ORDER BY event_ts, _sequence_number, _source_object, _record_index) IS DISTINCT FROM 'done' AS completes
        FROM ${events})
      GROUP BY user_id, task_id
    ), per_user_tasks AS (
      SELECT t.user_id, count(*) AS tasks_total,
             count(*) FILTER (WHERE t.status <> 'done') AS tasks_open,
             count(*) FILTER (WHERE t.status = 'done') AS tasks_done,
             -- Summed as exact microseconds, so the result does not depend on the order DuckDB adds them in.
             (sum(epoch_us(k.completed_ts) - epoch_us(k.inserted_ts)) FILTER (WHERE t.status = 'done')
               / count(epoch_us(k.completed_ts) - epoch_us(k.inserted_ts)) FILTER (WHERE t.status = 'done')
               / 3600000000.0)::DOUBLE AS avg_hours_to_complete
      FROM ${tasks} AS t LEFT JOIN per_key AS k USING (user_id, task_id)
      GROUP BY t.user_id
    ), per_user_activity AS (
      SELECT user_id, max(last_d) AS last_active_date FROM per_key GROUP BY user_id
    )
    SELECT u.user_id, u.plan, u.country,
           coalesce(t.tasks_total, 0) AS tasks_total, coalesce(t.tasks_open, 0) AS tasks_open, coalesce(t.tasks_done, 0) AS tasks_done,
           CASE WHEN coalesce(t.tasks_total, 0) = 0 THEN NULL ELSE t.tasks_done / t.tasks_total END AS completion_rate,
           t.avg_hours_to_complete,
           a.last_active_date
    FROM ${users} AS u
    LEFT JOIN per_user_tasks AS t USING (user_id)
    LEFT JOIN per_user_activity AS a USING (user_id)`;
}

/**
 * gold.user_kpis (docs/semantics.md, "Gold"). A bookmarked run after silver only appended events recomputes
 * the rows of the users with new task or user events, reading the events of just their tasks; every other
 * row stays as committed. silver.users and silver.tasks are read as committed with those events.
 */
export const userKpisJob = defineJob({
  name: 'gold.user_kpis',
  description: 'Per-user KPIs for analysts: tasks by status, completion rate, average hours to complete, last active date.',
  sources: {
    task_events: tableSource('silver.task_events'),
    user_events: tableSource('silver.user_events'),
    users: tableSource('silver.users', { snapshot: true }),
    tasks: tableSource('silver.tasks', { snapshot: true }),
  },
  outputs: [userKpisTable],
  incremental: true,
  transform: ({ mode, input, step, delta, previous }) => {
    if (mode === 'full') {
      return { outputs: { 'gold.user_kpis': `${userKpisSql(input('users'), input('tasks'), input('task_events'))} ORDER BY user_id` } };
    }
    const touched = step('touched_users');
    return {
      steps: [
        {
          name: 'touched_users',
          sql: `SELECT user_id FROM ${delta('task_events')} UNION SELECT user_id FROM ${delta('user_events')}`,
        },
      ],
      outputs: {
        'gold.user_kpis': `
          SELECT * FROM ${previous('gold.user_kpis')} ANTI JOIN ${touched} USING (user_id)
          UNION ALL
          SELECT * FROM (${userKpisSql(
            `(SELECT * FROM ${input('users')} SEMI JOIN ${touched} USING (user_id))`,
            `(SELECT * FROM ${input('tasks')} SEMI JOIN ${touched} USING (user_id))`,
            `(SELECT * FROM ${input('task_events')} SEMI JOIN ${touched} USING (user_id))`,
          )})`,
      },
    };
  },
});
