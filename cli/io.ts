/** Where a command writes. Tests pass a buffer; the real CLI passes the process streams. */
export interface CliIo {
  out(text: string): void | Promise<void>;
  err(text: string): void;
  /** A person is watching stderr (a terminal): progress is worth printing as it happens. */
  readonly interactive?: boolean;
  /** The width tables are fitted to: the terminal's (or $COLUMNS at a terminal that does not say); none for a file or a pipe. */
  readonly width?: number;
}

export function processIo(): CliIo {
  return streamIo(process.stdout, process.stderr, process.env);
}

/**
 * Output to two streams. Writing respects backpressure, so a large query result streams instead of piling
 * up in memory; each wait for 'drain' removes its listeners when it ends, however many waits there are.
 * A stream that fails or closes (a full disk, a reader that went away: `| head`) fails every later write
 * instead of crashing the process with an unhandled 'error' event or waiting for a 'drain' that never comes.
 */
export function streamIo(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv = {}): CliIo {
  let broken: Error | undefined;
  const terminal = stdout as NodeJS.WriteStream;
  const columns = Number(env.COLUMNS);
  // Only a terminal has a width: output to a file or a pipe is never wrapped, whatever $COLUMNS says.
  const width = terminal.isTTY !== true ? undefined : terminal.columns > 0 ? terminal.columns : Number.isInteger(columns) && columns > 0 ? columns : undefined;
  stdout.on('error', (error: Error) => void (broken ??= error));
  // Nothing can be told when stderr itself is gone.
  stderr.on('error', () => undefined);
  return {
    interactive: (stderr as NodeJS.WriteStream).isTTY === true,
    ...(width === undefined ? {} : { width }),
    out: (text) =>
      new Promise<void>((resolve, reject) => {
        if (broken) {
          reject(broken);
          return;
        }
        let written: boolean;
        try {
          written = stdout.write(text);
        } catch (error) {
          broken ??= error as Error;
          reject(broken);
          return;
        }
        if (written) {
          resolve();
          return;
        }
        const settle = (error?: Error) => {
          stdout.off('drain', drained).off('error', failed).off('close', closed);
          if (error) reject(error);
          else resolve();
        };
        const drained = () => settle();
        const failed = (error: Error) => settle(error);
        const closed = () => settle(broken ?? new Error('the output was closed'));
        stdout.once('drain', drained).once('error', failed).once('close', closed);
      }),
    err: (text) => {
      try {
        stderr.write(text);
      } catch {
        // As above: nowhere left to say it.
      }
    },
  };
}

/** Collects output in memory, for tests; `width` as a terminal that wide would have it. */
export function bufferIo(options: { readonly width?: number } = {}): CliIo & { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    ...(options.width === undefined ? {} : { width: options.width }),
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    stdout: () => stdout,
    stderr: () => stderr,
  };
}
