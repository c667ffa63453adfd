import { MedallionError } from '../errors.ts';

/** Node and network error codes that say "try again", not "this is wrong". */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EAGAIN',
  'COMMIT_CONFLICT', 'COMMIT_CONTENDED',
  // AWS SDK v3 error names for throttling and service trouble.
  'SlowDown', 'ThrottlingException', 'RequestLimitExceeded', 'ProvisionedThroughputExceededException', 'ServiceUnavailable',
  'InternalError', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError',
]);

/**
 * Whether an error is worth retrying: a storage or network hiccup, throttling, a 5xx, or a commit that lost
 * a race. Bad arguments, bad definitions, SQL errors, failed quality gates and timeouts are not: retrying
 * them only repeats the failure. Looks through `cause` chains, since the runner wraps what it catches.
 */
export function isTransientError(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current !== undefined && current !== null && depth < 8; depth += 1) {
    if (typeof current !== 'object') return false;
    const candidate = current as { code?: unknown; name?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; cause?: unknown };
    if (current instanceof MedallionError && current.exitCode === 2) return false;
    if (typeof candidate.code === 'string' && TRANSIENT_CODES.has(candidate.code)) return true;
    if (typeof candidate.name === 'string' && TRANSIENT_CODES.has(candidate.name)) return true;
    if (candidate.$retryable) return true;
    const status = candidate.$metadata?.httpStatusCode;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
    current = candidate.cause;
  }
  return false;
}
