import { defineJob, defineTable, tableSource } from '../../core/index.ts';

export const activeUsersTable = defineTable({
  name: 'gold.active_users',
  description: 'Daily, weekly and monthly active users per UTC day, over the same days as gold.daily_task_kpis.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [
    { name: 'dt', type: 'DATE', description: 'The UTC date.' },
    { name: 'dau', type: 'BIGINT', description: 'Distinct users with an effective Tasks event on dt.' },
    { name: 'wau', type: 'BIGINT', description: 'Distinct users with an effective Tasks event in the 7 days ending on dt (inclusive).' },
    { name: 'mau', type: 'BIGINT', description: 'Distinct users with an effective Tasks event in the 30 days ending on dt (inclusive).' },
  ],
});

/**
 * Rows for the days of `bounds` (first_d..last_d) from the (user_id, d) pairs of `userDays`, which must
 * hold every active day from first_d on and, before first_d, at least each user's latest active day in the
 * 29 days before it. A user counts in the window ending on dt when one of its
 * active days lies in it: each active day d covers the days from d until the user's next active day, at
 * most `width` of them, so per user the covered spans never overlap and a running sum counts them.
 */
function activeUsersSql(userDays: string, bounds: string): string {
  const window = (width: number, column: string) => `
    ${column} AS (
      SELECT dt, sum(change) OVER (ORDER BY dt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n
      FROM (
        SELECT dt, sum(change) AS change FROM (
          SELECT d AS dt, 1 AS change FROM spans
          UNION ALL SELECT least(coalesce(next_d, d + ${width}), d + ${width}), -1 FROM spans
          UNION ALL SELECT dt, 0 FROM days)
        GROUP BY dt))`;
  return `
    WITH days AS (
      SELECT unnest(generate_series(first_d, last_d, INTERVAL 1 DAY))::DATE AS dt FROM ${bounds} WHERE first_d IS NOT NULL AND first_d <= last_d
    ), spans AS (
      SELECT user_id, d, lead(d) OVER (PARTITION BY user_id ORDER BY d) AS next_d FROM ${userDays}
    ), ${window(7, 'weekly')}, ${window(30, 'monthly')},
    daily AS (SELECT d AS dt, count(*) AS n FROM ${userDays} GROUP BY d)
    SELECT days.dt, coalesce(daily.n, 0) AS dau, coalesce(weekly.n, 0) AS wau, coalesce(monthly.n, 0) AS mau
    FROM days
    LEFT JOIN daily USING (dt)
    LEFT JOIN weekly USING (dt)
    LEFT JOIN monthly USING (dt)`;
}

/**
 * gold.active_users from silver.task_events (docs/semantics.md, "Gold"). A bookmarked run after silver only
 * appended events recomputes the days from the earliest new event's date on (from the day after the last
 * computed day when that is earlier), reading only the events of the 29 days before that and later: a
 * late event on day d changes d..d+29 and nothing before d.
 */
export const activeUsersJob = defineJob({
  name: 'gold.active_users',
  description: 'Daily, weekly (7-day) and monthly (30-day) active users for analysts.',
  sources: { events: tableSource('silver.task_events') },
  outputs: [activeUsersTable],
  incremental: true,
  transform: ({ mode, input, step, delta, previous }) => {
    if (mode === 'full') {
      return {
        steps: [
          { name: 'user_days', sql: `SELECT DISTINCT user_id, event_date AS d FROM ${input('events')}` },
          { name: 'bounds', sql: `SELECT min(d) AS first_d, max(d) AS last_d FROM ${step('user_days')}` },
        ],
        outputs: { 'gold.active_users': `${activeUsersSql(step('user_days'), step('bounds'))} ORDER BY days.dt` },
      };
    }
    const committed = previous('gold.active_users');
    return {
      steps: [
        {
          name: 'bounds',
          sql: `
            SELECT least((SELECT min(event_date) FROM ${delta('events')}), (SELECT max(dt) + 1 FROM ${committed})) AS first_d,
                   greatest((SELECT max(dt) FROM ${committed}), (SELECT max(event_date) FROM ${delta('events')})) AS last_d`,
        },
        {
          // Each user's active days from first_d on, and before them only its latest one in the 29 days before
          // first_d: an earlier day's span ends by that one, so it changes no count from first_d on.
          name: 'user_days',
          sql: `
            SELECT user_id, max(event_date) AS d
            FROM ${input('events')}
            WHERE event_date >= (SELECT first_d - 29 FROM ${step('bounds')})
            GROUP BY user_id, CASE WHEN event_date >= (SELECT first_d FROM ${step('bounds')}) THEN event_date END`,
        },
      ],
      outputs: {
        'gold.active_users': `
          SELECT * FROM ${committed} WHERE dt < (SELECT coalesce(first_d, DATE '9999-12-31') FROM ${step('bounds')})
          UNION ALL
          SELECT * FROM (${activeUsersSql(step('user_days'), step('bounds'))})`,
      },
    };
  },
});
