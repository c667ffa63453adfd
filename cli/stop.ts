import { constants } from 'node:os';
import { MedallionError } from '../core/errors.ts';

/**
 * What SIGINT (Ctrl-C) and SIGTERM (`kill`, ECS stopping a task) do to a command. While a command holds work that
 * stops cleanly (job runs: they end STOPPED, commit nothing and release their locks), the first signal asks it to
 * stop and the process exits when it has (exit 130 for SIGINT, 143 for SIGTERM); a second signal, or a signal
 * while nothing is held, exits at once, as without a handler.
 *
 * @example
 * const stop = new StopRequest();
 * const release = stop.hold();
 * try { await runJobs(lake, jobs, { stop: stop.signal }); } finally { release(); }
 */
export class StopRequest {
  private readonly controller = new AbortController();
  private holders = 0;
  private reason: NodeJS.Signals | undefined;

  /** Aborted once a stop is requested; its reason is the signal's name. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The signal that asked to stop, if one did. */
  get requested(): NodeJS.Signals | undefined {
    return this.reason;
  }

  /** Marks work under way that stops cleanly when asked; call the returned function when it is over. */
  hold(): () => void {
    this.holders += 1;
    let released = false;
    return () => {
      if (!released) this.holders -= 1;
      released = true;
    };
  }

  /** A signal arrived: `stopping` when held work will stop and the command then exits, `exit` to exit now. */
  request(signal: NodeJS.Signals): 'stopping' | 'exit' {
    if (this.reason !== undefined || this.holders === 0) {
      this.reason ??= signal;
      return 'exit';
    }
    this.reason = signal;
    this.controller.abort(signal);
    return 'stopping';
  }

  /** Throws `STOPPED` when a stop was requested: the work that held it ended early, on purpose. */
  throwIfStopped(what: string): void {
    if (this.reason === undefined) return;
    throw new MedallionError('STOPPED', `${what} (${this.reason}); every lock is released`, {
      hint: 'see what each job did with `medallion runs`, and run again when you are ready',
    });
  }
}

/** The exit code of a process ended by `signal`, as a shell reports it: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * SIGINT and SIGTERM handlers for the CLI's process: the first asks `stop` to stop (saying so on stderr), and exits
 * at once when nothing holds it; a second exits at once.
 */
export function installSignalHandlers(stop: StopRequest, stderr: (text: string) => void, exit: (code: number) => never = process.exit): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stop.request(signal) === 'exit') exit(signalExitCode(signal));
      stderr(`${signal}: stopping the runs under way (they commit nothing and release their locks); ${signal === 'SIGINT' ? 'Ctrl-C again' : 'a second signal'} quits at once\n`);
    });
  }
}
