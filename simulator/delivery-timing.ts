import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND } from './utc-time.ts';

// How records travel from a table to S3. The out-of-order fault relies on these bounds: a record delayed
// past (next event + MAX_ARRIVAL_DELAY_MS + MAX_BUFFER_INTERVAL_MS) cannot share an object with that next event.

/** A change reaches Firehose seconds to a minute after it happens. */
export const MIN_ARRIVAL_DELAY_MS = 1 * MS_PER_SECOND;
export const MAX_ARRIVAL_DELAY_MS = 60 * MS_PER_SECOND;

/** Firehose closes an object this long after its first record arrived... */
export const MIN_BUFFER_INTERVAL_MS = 1 * MS_PER_MINUTE;
export const MAX_BUFFER_INTERVAL_MS = 5 * MS_PER_MINUTE;
/** ...or once it holds this many records (standing in for Firehose's size limit). */
export const MAX_RECORDS_PER_OBJECT = 250;

/** A late object turns up this long after it should have. */
export const MIN_LATE_DELAY_MS = 1.5 * MS_PER_DAY;
export const MAX_LATE_DELAY_MS = 4 * MS_PER_DAY;

/** An out-of-order record is held back past its key's next event only when that event is this close. */
export const MAX_OUT_OF_ORDER_GAP_MS = 6 * MS_PER_HOUR;
export const OUT_OF_ORDER_MARGIN_MS = MAX_ARRIVAL_DELAY_MS + MAX_BUFFER_INTERVAL_MS + MS_PER_SECOND;
