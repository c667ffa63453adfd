-- The reference pipeline's work as one hand-written DuckDB script: the benchmark's yardstick.
-- {{LANDING_TASKS}}, {{LANDING_USERS}} and {{OUT}} are replaced by the runner.
-- It reads the landing files with DuckDB's own JSON reader (gzip and concatenated records handled by
-- DuckDB, bad records skipped rather than quarantined), then does the same dedup, typing, current
-- state, history (SCD2) and KPI work as the jobs, writing Parquet at each layer: every table the jobs
-- write but the quarantine (gold.user_kpis and gold.active_users since the jobs gained them). It does less
-- where a hand-written script would: one process keeps the typed events in memory for every later table.
SET TimeZone = 'UTC';

-- The script's bronze for tasks is this table and the COPY after it: the benchmark times the two against
-- bronze.tasks_cdc (bench/pipeline-bench.ts), so they stay together and in this order.
CREATE TEMP TABLE landing_tasks AS
SELECT filename AS source_object, json AS raw
FROM read_json_objects({{LANDING_TASKS}}, format = 'auto', filename = true, ignore_errors = true);

COPY (
  SELECT (raw->>'$.eventID') AS event_id, (raw->>'$.eventName') AS event_name,
         make_timestamp(CASE WHEN (raw->>'$.dynamodb.ApproximateCreationDateTimePrecision') = 'MILLISECOND'
                             THEN try_cast(raw->>'$.dynamodb.ApproximateCreationDateTime' AS BIGINT) * 1000
                             ELSE try_cast(raw->>'$.dynamodb.ApproximateCreationDateTime' AS BIGINT) END) AS event_ts,
         (raw->'$.dynamodb.Keys') AS keys, (raw->'$.dynamodb.NewImage') AS new_image, (raw->'$.dynamodb.OldImage') AS old_image,
         source_object, current_date AS ingest_date
  FROM landing_tasks
  WHERE (raw->>'$.eventID') IS NOT NULL AND (raw->>'$.eventName') IN ('INSERT', 'MODIFY', 'REMOVE')
) TO '{{OUT}}/bronze_tasks' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (ingest_date));

CREATE TEMP TABLE task_events AS
SELECT event_id, event_name, event_ts,
       (keys->>'$.userId.S') AS user_id, (keys->>'$.taskId.S') AS task_id,
       (new_image->>'$.title.S') AS title, (new_image->>'$.status.S') AS status,
       try_cast(new_image->>'$.priority.N' AS INTEGER) AS priority, try_cast(new_image->>'$.dueDate.S' AS DATE) AS due_date,
       list_sort(try_cast(new_image->'$.tags.SS' AS VARCHAR[])) AS tags,
       try_cast(new_image->>'$.createdAt.S' AS TIMESTAMPTZ)::TIMESTAMP AS created_at,
       try_cast(new_image->>'$.updatedAt.S' AS TIMESTAMPTZ)::TIMESTAMP AS updated_at,
       try_cast(new_image->>'$.completedAt.S' AS TIMESTAMPTZ)::TIMESTAMP AS completed_at,
       source_object
FROM read_parquet('{{OUT}}/bronze_tasks/*/*.parquet')
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_object) = 1;

COPY (SELECT *, event_ts::DATE AS event_date FROM task_events WHERE event_name = 'REMOVE' OR status IN ('todo', 'in_progress', 'done'))
TO '{{OUT}}/task_events' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (event_date));

COPY (
  SELECT * FROM task_events
  QUALIFY row_number() OVER (PARTITION BY user_id, task_id ORDER BY event_ts DESC, source_object DESC) = 1
) TO '{{OUT}}/tasks.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
  SELECT *, event_name = 'REMOVE' AS is_deleted, lead(event_ts) OVER w IS NULL AS is_current, event_ts AS valid_from,
         lead(event_ts) OVER w AS valid_to, (lead(event_ts) OVER w)::DATE AS closed_date
  FROM task_events WINDOW w AS (PARTITION BY user_id, task_id ORDER BY event_ts, source_object)
) TO '{{OUT}}/tasks_history' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (closed_date));

COPY (
  WITH o AS (
    SELECT *, event_ts::DATE AS d,
           lag(status) OVER w AS prev_status, lead(event_ts::DATE) OVER w AS next_d
    FROM task_events WINDOW w AS (PARTITION BY user_id, task_id ORDER BY event_ts, source_object)
  ), b AS (SELECT min(d) lo, max(d) hi FROM o),
  days AS (SELECT unnest(generate_series(lo, hi, INTERVAL 1 DAY))::DATE AS dt FROM b),
  daily AS (SELECT d AS dt, count(*) FILTER (WHERE event_name = 'INSERT') c, count(*) FILTER (WHERE event_name = 'REMOVE') r,
                   count(DISTINCT user_id) u FROM o GROUP BY d),
  fi AS (SELECT user_id, task_id, min(event_ts) ins FROM o WHERE event_name = 'INSERT' GROUP BY ALL),
  comp AS (SELECT o.d AS dt, count(*) n, quantile_cont((epoch_us(o.event_ts) - epoch_us(fi.ins)) / 3.6e9, 0.5) m
           FROM o LEFT JOIN fi USING (user_id, task_id) WHERE o.status = 'done' AND o.prev_status IS DISTINCT FROM 'done' GROUP BY o.d),
  spans AS (SELECT o.d f, coalesce(o.next_d - 1, b.hi) t, due_date FROM o, b WHERE event_name <> 'REMOVE' AND status <> 'done'),
  deltas AS (SELECT f dt, 1 od, 0 dd FROM spans WHERE f <= t UNION ALL SELECT t + 1, -1, 0 FROM spans WHERE f <= t
             UNION ALL SELECT greatest(f, due_date + 1), 0, 1 FROM spans WHERE due_date IS NOT NULL AND greatest(f, due_date + 1) <= t
             UNION ALL SELECT t + 1, 0, -1 FROM spans WHERE due_date IS NOT NULL AND greatest(f, due_date + 1) <= t),
  per_day AS (SELECT dt, sum(od) od, sum(dd) dd FROM deltas GROUP BY dt)
  SELECT days.dt, coalesce(c, 0) created, coalesce(n, 0) completed, coalesce(r, 0) deleted, coalesce(u, 0) active,
         sum(coalesce(od, 0)) OVER w2 open_eod, sum(coalesce(dd, 0)) OVER w2 overdue_eod, m median_hours
  FROM days LEFT JOIN daily USING (dt) LEFT JOIN comp USING (dt) LEFT JOIN per_day USING (dt)
  WINDOW w2 AS (ORDER BY days.dt)
) TO '{{OUT}}/daily_task_kpis.parquet' (FORMAT parquet);

CREATE TEMP TABLE landing_users AS
SELECT filename AS source_object, json AS raw
FROM read_json_objects({{LANDING_USERS}}, format = 'auto', filename = true, ignore_errors = true);

COPY (
  SELECT (raw->>'$.eventID') AS event_id, (raw->>'$.eventName') AS event_name,
         (raw->>'$.dynamodb.Keys.userId.S') AS user_id, (raw->'$.dynamodb.NewImage') AS new_image, source_object
  FROM landing_users WHERE (raw->>'$.eventID') IS NOT NULL
) TO '{{OUT}}/bronze_users.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
  SELECT user_id, (new_image->>'$.email.S') AS email, (new_image->>'$.name.S') AS name, (new_image->>'$.plan.S') AS plan,
         (new_image->>'$.country.S') country, try_cast(new_image->>'$.createdAt.S' AS TIMESTAMPTZ)::TIMESTAMP created_at
  FROM read_parquet('{{OUT}}/bronze_users.parquet')
  QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY event_id) = 1
) TO '{{OUT}}/users.parquet' (FORMAT parquet);

COPY (
  SELECT user_id, (new_image->>'$.email.S') AS email, (new_image->>'$.plan.S') AS plan, event_name = 'REMOVE' AS is_deleted,
         lead(event_id) OVER w IS NULL AS is_current, event_id AS valid_from, lead(event_id) OVER w AS valid_to
  FROM read_parquet('{{OUT}}/bronze_users.parquet') WINDOW w AS (PARTITION BY user_id ORDER BY event_id)
) TO '{{OUT}}/users_history.parquet' (FORMAT parquet);

-- gold.user_kpis: per user, their tasks in the current state by status, the hours from a task's first INSERT
-- to its latest completion (exact microseconds too), and the last day with an event (one window over the events).
COPY (
  WITH per_key AS (
    SELECT user_id, task_id,
           min(event_ts) FILTER (WHERE event_name = 'INSERT') AS ins, max(event_ts) FILTER (WHERE completes) AS completed,
           max(event_ts::DATE) AS last_d
    FROM (SELECT user_id, task_id, event_name, event_ts, status = 'done' AND lag(status) OVER w IS DISTINCT FROM 'done' AS completes
          FROM task_events WINDOW w AS (PARTITION BY user_id, task_id ORDER BY event_ts, source_object))
    GROUP BY ALL
  ), per_user AS (
    SELECT t.user_id, count(*) AS total, count(*) FILTER (WHERE t.status <> 'done') AS open, count(*) FILTER (WHERE t.status = 'done') AS done,
           count(*) FILTER (WHERE t.status = 'done' AND k.ins IS NOT NULL AND k.completed IS NOT NULL) AS timed,
           coalesce(sum(epoch_us(k.completed) - epoch_us(k.ins)) FILTER (WHERE t.status = 'done'), 0)::DECIMAL(38,0) AS us
    FROM read_parquet('{{OUT}}/tasks.parquet') AS t LEFT JOIN per_key AS k USING (user_id, task_id)
    WHERE t.event_name <> 'REMOVE' GROUP BY t.user_id
  ), activity AS (SELECT user_id, max(last_d) AS last_active_date FROM per_key GROUP BY user_id)
  SELECT u.user_id, u.plan, u.country, coalesce(total, 0) AS tasks_total, coalesce(open, 0) AS tasks_open, coalesce(done, 0) AS tasks_done,
         done / nullif(total, 0) AS completion_rate, (us / nullif(timed, 0) / 3.6e9)::DOUBLE AS avg_hours_to_complete, last_active_date,
         coalesce(timed, 0) AS tasks_timed, coalesce(us, 0)::DECIMAL(38,0) AS microseconds_to_complete
  FROM read_parquet('{{OUT}}/users.parquet') AS u LEFT JOIN per_user USING (user_id) LEFT JOIN activity USING (user_id)
  ORDER BY u.user_id
) TO '{{OUT}}/user_kpis.parquet' (FORMAT parquet);

-- gold.active_users: distinct users with an event on the day, in the 7 and in the 30 days ending on it.
COPY (
  WITH user_days AS (SELECT DISTINCT user_id, event_ts::DATE AS d FROM task_events),
  b AS (SELECT min(d) AS lo, max(d) AS hi FROM user_days),
  days AS (SELECT unnest(generate_series(lo, hi, INTERVAL 1 DAY))::DATE AS dt FROM b),
  spans AS (SELECT d, lead(d) OVER (PARTITION BY user_id ORDER BY d) AS next_d FROM user_days),
  weekly AS (SELECT dt, sum(sum(c)) OVER (ORDER BY dt) AS n FROM (
    SELECT d AS dt, 1 AS c FROM spans UNION ALL SELECT least(coalesce(next_d, d + 7), d + 7), -1 FROM spans UNION ALL SELECT dt, 0 FROM days) GROUP BY dt),
  monthly AS (SELECT dt, sum(sum(c)) OVER (ORDER BY dt) AS n FROM (
    SELECT d AS dt, 1 AS c FROM spans UNION ALL SELECT least(coalesce(next_d, d + 30), d + 30), -1 FROM spans UNION ALL SELECT dt, 0 FROM days) GROUP BY dt),
  daily AS (SELECT d AS dt, count(*) AS n FROM user_days GROUP BY d)
  SELECT days.dt, coalesce(daily.n, 0) AS dau, coalesce(weekly.n, 0) AS wau, coalesce(monthly.n, 0) AS mau
  FROM days LEFT JOIN daily USING (dt) LEFT JOIN weekly USING (dt) LEFT JOIN monthly USING (dt) ORDER BY days.dt
) TO '{{OUT}}/active_users.parquet' (FORMAT parquet);
