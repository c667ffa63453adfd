/** Event order of one task's events in silver.task_events (docs/semantics.md), as a window's PARTITION BY ... ORDER BY. */
export const KEY_ORDER = 'PARTITION BY user_id, task_id ORDER BY event_ts, _sequence_number, _source_object, _record_index';

