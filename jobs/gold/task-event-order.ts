/** Event order of one task's events in silver.task_events (docs/semantics.md), as a window's PARTITION BY ... ORDER BY. */
export const KEY_ORDER = 'PARTITION BY user_id, task_id ORDER BY event_ts, _sequence_number, _source_object, _record_index';

/** The same order backwards: what comes last in event order (a NULL sequence number sorts last) comes first. */
export const KEY_ORDER_REVERSED =
  'PARTITION BY user_id, task_id ORDER BY event_ts DESC NULLS FIRST, _sequence_number DESC NULLS FIRST, _source_object DESC NULLS FIRST, _record_index DESC NULLS FIRST';
