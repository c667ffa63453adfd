import { defineJob, defineTable, tableSource } from '../../core/index.ts';
import { KEY_ORDER } from './task-event-order.ts';

/**
 * Exact microseconds: DECIMAL(38,0), which Parquet stores exactly (a HUGEINT column would be written as a DOUBLE).
 */
const EXACT_US = 'DECIMAL(38,0)';

export const userKpisTable = defineTable({
  name: 'gold.user_kpis',
  description: 'One row per user in silver.users: plan, country, their tasks by status, completion rate, hours to complete, last active date.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [
    { name: 'user_id', type: 'VARCHAR', description: 'The user (a key of silver.users).' },
    { name: 'plan', type: 'VARCHAR', description: 'The plan in silver.users.' },
    { name: 'country', type: 'VARCHAR', description: 'The country in silver.users; NULL when not given.', personalData: 'indirect' },
    { name: 'tasks_total', type: 'BIGINT', description: "The user's tasks in silver.tasks." },
    { name: 'tasks_open', type: 'BIGINT', description: 'Those whose status is not done.' },
    { name: 'tasks_done', type: 'BIGINT', description: 'Those whose status is done.' },
    { name: 'completion_rate', type: 'DOUBLE', description: 'tasks_done / tasks_total; NULL when the user has no task.' },
    {
      name: 'avg_hours_to_complete',
      type: 'DOUBLE',
      description: "Mean over the user's done tasks of the hours from the task's earliest INSERT event to its latest completion; tasks with no INSERT event are left out; NULL when none is left. Equals microseconds_to_complete / tasks_timed / 3.6e9.",
    },
    { name: 'last_active_date', type: 'DATE', description: "Date of the user's latest effective Tasks event; NULL when none." },
    {
      name: 'tasks_timed',
      type: 'BIGINT',
      description: 'The done tasks avg_hours_to_complete averages over (those with an INSERT event and a completion). Additive: sum it over users to average over a group.',
    },
    {
      name: 'microseconds_to_complete',
      type: EXACT_US,
      description: 'Sum over those tasks of the microseconds from INSERT to latest completion, exact. Additive, like tasks_timed.',
    },
  ],
});


/**
 * What each task (key) of `events` adds to its user's row, from all of that key's events: whether it is
 * in silver.tasks (its last event in event order is not a REMOVE) and with which status, its earliest
 * INSERT, its latest completion, and the date of its latest event.
 */
function keyContributionsSql(events: string): string {
  return `
    SELECT user_id, task_id,
           coalesce(in_tasks, false) AS in_tasks,
           coalesce(in_tasks AND status = 'done', false) AS done,
           coalesce(in_tasks AND status <> 'done', false) AS open,
           -- (DuckDB lets a select list use the names it gives: done, then timed.)
           done AND inserted_ts IS NOT NULL AND completed_ts IS NOT NULL AS timed,
           CASE WHEN timed THEN (epoch_us(completed_ts) - epoch_us(inserted_ts))::${EXACT_US} ELSE 0::${EXACT_US} END AS us_to_complete,
           last_d
    FROM (
      SELECT user_id, task_id,
             min(event_ts) FILTER (WHERE event_name = 'INSERT') AS inserted_ts,
             max(event_ts) FILTER (WHERE completes) AS completed_ts,
             max(event_date) AS last_d,
             bool_or(event_name <> 'REMOVE') FILTER (WHERE is_last) AS in_tasks,
             max(status) FILTER (WHERE is_last) AS status
      FROM (
        -- Event order is total (the landing record breaks ties), so the row with nothing after it is the last;
        -- one window, so one sort.
        SELECT user_id, task_id, event_name, event_ts, event_date, status,
               status = 'done' AND lag(status) OVER key_order IS DISTINCT FROM 'done' AS completes,
               lead(true) OVER key_order IS NULL AS is_last
        FROM ${events}
        WINDOW key_order AS (${KEY_ORDER}))
      GROUP BY user_id, task_id)`;
}

/** The derived columns of a row from its counts. */
function finishedRowSql(counts: string): string {
  return `
    SELECT user_id, plan, country, tasks_total, tasks_open, tasks_done,
           CASE WHEN tasks_total = 0 THEN NULL ELSE tasks_done / tasks_total END AS completion_rate,
           CASE WHEN tasks_timed = 0 THEN NULL ELSE (microseconds_to_complete / tasks_timed / 3600000000.0)::DOUBLE END AS avg_hours_to_complete,
           last_active_date, tasks_timed, microseconds_to_complete
    FROM ${counts}`;
}

/**
 * Rows for the users of `users` (rows of silver.users) from their tasks in `tasks` (silver.tasks) and
 * the task events in `events` (all events of those users' tasks).
 */
function userKpisSql(users: string, tasks: string, events: string): string {
  return finishedRowSql(`(
    WITH per_key AS (${keyContributionsSql(events)}),
    per_user_tasks AS (
      SELECT t.user_id, count(*) AS tasks_total,
             count(*) FILTER (WHERE t.status <> 'done') AS tasks_open,
             count(*) FILTER (WHERE t.status = 'done') AS tasks_done,
             count(*) FILTER (WHERE t.status = 'done' AND k.timed) AS tasks_timed,
             -- Exact microseconds, so the result does not depend on the order DuckDB adds them in.
             coalesce(sum(k.us_to_complete) FILTER (WHERE t.status = 'done' AND k.timed), 0)::${EXACT_US} AS microseconds_to_complete
      FROM ${tasks} AS t LEFT JOIN per_key AS k USING (user_id, task_id)
      GROUP BY t.user_id
    ), per_user_activity AS (
      SELECT user_id, max(last_d) AS last_active_date FROM per_key GROUP BY user_id
    )
    SELECT u.user_id, u.plan, u.country,
           coalesce(t.tasks_total, 0) AS tasks_total, coalesce(t.tasks_open, 0) AS tasks_open, coalesce(t.tasks_done, 0) AS tasks_done,
           coalesce(t.tasks_timed, 0) AS tasks_timed, coalesce(t.microseconds_to_complete, 0)::${EXACT_US} AS microseconds_to_complete,
           a.last_active_date
    FROM ${users} AS u
    LEFT JOIN per_user_tasks AS t USING (user_id)
    LEFT JOIN per_user_activity AS a USING (user_id))`);
}

/**
 * gold.user_kpis (docs/semantics.md, "Gold"). A bookmarked run after silver only appended events works by
 * task, not by user: for each task with new events it computes what the task added to its user's row
 * before (from the events read then) and what it adds now (from all its events), and applies the
 * difference to the committed row; the counts and the exact microsecond sum behind the average are
 * additive, and the latest event date only grows. Users new to silver.users are computed whole; plan and
 * country are read from silver.users for every row; users no longer there are dropped. A table committed
 * before tasks_timed and microseconds_to_complete existed is recomputed in full once.
 */
export const userKpisJob = defineJob({
  name: 'gold.user_kpis',
  description: 'Per-user KPIs for analysts: tasks by status, completion rate, average hours to complete, last active date.',
  sources: {
    task_events: tableSource('silver.task_events'),
    users: tableSource('silver.users', { snapshot: true }),
    tasks: tableSource('silver.tasks', { snapshot: true }),
  },
  outputs: [userKpisTable],
  incremental: true,
  transform: ({ mode, input, step, delta, previous }) => {
    if (mode === 'full') {
      return { outputs: { 'gold.user_kpis': `${userKpisSql(input('users'), input('tasks'), input('task_events'))} ORDER BY user_id` } };
    }
    const committed = previous('gold.user_kpis');
    const touchedKeys = step('touched_keys');
    const newUsers = step('new_users');
    return {
      steps: [
        { name: 'touched_keys', sql: `SELECT DISTINCT user_id, task_id FROM ${delta('task_events')}` },
        { name: 'new_users', sql: `SELECT user_id FROM ${input('users')} ANTI JOIN ${committed} USING (user_id)` },
        // All events of those tasks, read once: the ones not new are what the committed rows were computed from.
        // (Only the columns a key's contribution and its event order need: the step is materialized.)
        {
          name: 'touched_events',
          sql: `
            SELECT event_id, user_id, task_id, event_name, event_ts, event_date, status, _sequence_number, _source_object, _record_index
            FROM ${input('task_events')} SEMI JOIN ${touchedKeys} USING (user_id, task_id)`,
        },
        {
          // Per user: what its tasks with new events add now, less what they added before.
          name: 'user_changes',
          sql: `
            SELECT now.user_id,
                   sum(now.in_tasks::BIGINT - coalesce(was.in_tasks, false)::BIGINT) AS tasks_total,
                   sum(now.open::BIGINT - coalesce(was.open, false)::BIGINT) AS tasks_open,
                   sum(now.done::BIGINT - coalesce(was.done, false)::BIGINT) AS tasks_done,
                   sum(now.timed::BIGINT - coalesce(was.timed, false)::BIGINT) AS tasks_timed,
                   sum(now.us_to_complete - coalesce(was.us_to_complete, 0))::${EXACT_US} AS microseconds_to_complete,
                   max(now.last_d) AS last_d
            FROM (${keyContributionsSql(step('touched_events'))}) AS now
            LEFT JOIN (${keyContributionsSql(`(SELECT * FROM ${step('touched_events')} ANTI JOIN ${delta('task_events')} USING (event_id))`)}) AS was
              USING (user_id, task_id)
            GROUP BY now.user_id`,
        },
      ],
      // Rows committed before the additive columns existed read them as NULL: recompute those lakes in full once.
      needsFullRun: `SELECT 1 FROM ${committed} WHERE tasks_timed IS NULL OR microseconds_to_complete IS NULL`,
      outputs: {
        'gold.user_kpis': `
          ${finishedRowSql(`(
            SELECT u.user_id, u.plan, u.country,
                   p.tasks_total + coalesce(c.tasks_total, 0) AS tasks_total,
                   p.tasks_open + coalesce(c.tasks_open, 0) AS tasks_open,
                   p.tasks_done + coalesce(c.tasks_done, 0) AS tasks_done,
                   p.tasks_timed + coalesce(c.tasks_timed, 0) AS tasks_timed,
                   (p.microseconds_to_complete + coalesce(c.microseconds_to_complete, 0))::${EXACT_US} AS microseconds_to_complete,
                   -- greatest() skips a NULL: either may be missing.
                   greatest(p.last_active_date, c.last_d) AS last_active_date
            FROM ${input('users')} AS u
            JOIN ${committed} AS p USING (user_id)
            LEFT JOIN ${step('user_changes')} AS c USING (user_id))`)}
          UNION ALL
          SELECT * FROM (${userKpisSql(
            `(SELECT * FROM ${input('users')} SEMI JOIN ${newUsers} USING (user_id))`,
            `(SELECT * FROM ${input('tasks')} SEMI JOIN ${newUsers} USING (user_id))`,
            `(SELECT * FROM ${input('task_events')} SEMI JOIN ${newUsers} USING (user_id))`,
          )})`,
      },
    };
  },
});
