/**
 * Errors an operator or data engineer can act on. Each has a stable `code` to grep for, names what it
 * concerns, and says where to look next. The CLI prints `code: message` and exits 2 for usage errors,
 * 1 for data problems.
 *
 * @example
 * throw new ConfigError('MEDALLION_CONFIG_INVALID', 'lake path is empty', { hint: 'pass --lake DIR' });
 */
export class MedallionError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** Exit code the CLI uses: 2 for usage or configuration, 1 for data and run failures. */
  readonly exitCode: 1 | 2;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown; exitCode?: 1 | 2 } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }

  /** One line for a person: the code, what happened, and what to do. */
  describe(): string {
    return `${this.code}: ${this.message}${this.hint ? ` (${this.hint})` : ''}`;
  }
}

/** Bad arguments, options, environment or job definitions. Never retried. */
export class ConfigError extends MedallionError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, { ...options, exitCode: 2 });
  }
}

/** A job's SQL or declared schema does not fit together. */
export class JobDefinitionError extends MedallionError {
  readonly job: string;
  constructor(job: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('JOB_DEFINITION_INVALID', `job ${job}: ${message}`, { ...options, exitCode: 2 });
    this.job = job;
  }
}

/** Another commit changed a table this run writes since the run read it. */
export class CommitConflictError extends MedallionError {
  readonly table: string;
  constructor(table: string, message: string) {
    super('COMMIT_CONFLICT', `table ${table}: ${message}`, {
      hint: 'another run wrote this table at the same time; rerun the job',
    });
    this.table = table;
  }
}

/** A run held a job's lock and lost it (its lease ran out and another run took over). */
export class LockLostError extends MedallionError {
  readonly lock: string;
  constructor(lock: string, message: string) {
    super('LOCK_LOST', `lock ${lock}: ${message}`, { hint: 'the run stopped heartbeating for longer than its lease; nothing it had not committed is visible' });
    this.lock = lock;
  }
}

/** Another run of the job holds its lock. */
export class JobBusyError extends MedallionError {
  readonly job: string;
  constructor(job: string, holder: string, leaseEnds: string) {
    super('JOB_ALREADY_RUNNING', `job ${job} is already running (run ${holder}, lease until ${leaseEnds})`, {
      hint: 'wait for it, pass --wait to queue behind it, or see `medallion runs ' + job + '`; a dead run stops blocking when its lease ends',
    });
    this.job = job;
  }
}

/** An attempt ran past its timeout; nothing it did was committed. */
export class JobTimeoutError extends MedallionError {
  readonly job: string;
  constructor(job: string, runId: string, timeoutMinutes: number) {
    super('JOB_TIMEOUT', `job ${job} run ${runId} ran longer than its timeout of ${timeoutMinutes} minutes and was stopped; nothing was committed`, {
      hint: 'raise --timeout, or look at what made the run slow (`medallion runs`)',
    });
    this.job = job;
  }
}

/** A run stopped on request (SIGINT, SIGTERM) before its commit: nothing was committed, its lock is released. */
export class JobStoppedError extends MedallionError {
  readonly job: string;
  constructor(job: string, runId: string, reason: string) {
    super('JOB_STOPPED', `job ${job} run ${runId} was stopped (${reason}) before its commit; nothing was committed and its lock is released`, {
      hint: `run it again when you are ready: \`medallion run ${job}\` (with the arguments it was given)`,
    });
    this.job = job;
  }
}

/** A table, job or object that was asked for does not exist. */
export class NotFoundError extends MedallionError {
  constructor(code: string, message: string, options: { hint?: string } = {}) {
    super(code, message, { ...options, exitCode: 2 });
  }
}

/** A job run failed while running (SQL error, storage failure, ...). */
export class JobRunError extends MedallionError {
  readonly job: string;
  readonly runId: string;
  constructor(job: string, runId: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('JOB_RUN_FAILED', `job ${job} run ${runId}: ${message}`, options);
    this.job = job;
    this.runId = runId;
  }
}

/**
 * A message safe to show: the error's own description, without stack or secrets. A named error (an AWS
 * SDK's `AccessDeniedException`, say) keeps its name: it is often what says what went wrong.
 */
export function describeError(error: unknown): string {
  if (error instanceof MedallionError) return error.describe();
  if (error instanceof Error) return scrubSecrets(error.name && error.name !== 'Error' && !error.message.startsWith(error.name) ? `${error.name}: ${error.message}` : error.message);
  return scrubSecrets(String(error));
}

const SECRET_PATTERNS: readonly RegExp[] = [
  /(aws_secret_access_key|secretAccessKey|SecretAccessKey)(["'=:\s]+)[A-Za-z0-9/+=]{20,}/g,
  /(X-Amz-Signature)(=)[0-9a-f]+/g,
  /(X-Amz-Credential)(=)[^&\s]+/g,
];

/** Removes credentials that SDK errors sometimes echo back. */
export function scrubSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((acc, pattern) => acc.replace(pattern, '$1$2<redacted>'), text);
}

const PERMISSION_DENIED = { code: 'PERMISSION_DENIED', hint: 'the user running medallion needs read and write access to the lake folder and $TMPDIR' };

/** What the operating system refused, by its error code, with what to do about it. */
const SYSTEM_PROBLEMS: Readonly<Record<string, { code: string; hint: string }>> = {
  ENOSPC: { code: 'DISK_FULL', hint: 'free space where the lake, its state and $TMPDIR live, then rerun; a run stopped by a full disk committed nothing' },
  EDQUOT: { code: 'DISK_FULL', hint: 'the disk quota is used up: free space or raise the quota, then rerun' },
  EACCES: PERMISSION_DENIED,
  EPERM: PERMISSION_DENIED,
  EROFS: { code: 'READ_ONLY_FILE_SYSTEM', hint: 'the lake or $TMPDIR is on a read-only file system' },
  EMFILE: { code: 'TOO_MANY_OPEN_FILES', hint: 'raise the open-file limit (ulimit -n) and rerun' },
  ENFILE: { code: 'TOO_MANY_OPEN_FILES', hint: 'the system ran out of file handles; rerun when fewer files are open' },
};

/** The system problem behind an error (itself or a cause), if it is one the operating system names. */
export function systemProblemOf(error: unknown): { code: string; hint: string } | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && SYSTEM_PROBLEMS[code]) return SYSTEM_PROBLEMS[code];
    // DuckDB says it in words.
    if (/No space left on device/i.test(current.message)) return SYSTEM_PROBLEMS.ENOSPC;
  }
  return undefined;
}
