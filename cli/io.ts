/** Where a command writes. Tests pass a buffer; the real CLI passes the process streams. */
export interface CliIo {
  out(text: string): void | Promise<void>;
  err(text: string): void;
}

export function processIo(): CliIo {
  return streamIo(process.stdout, process.stderr);
}

/**
 * Output to two streams. Writing respects backpressure, so a large query result streams instead of piling
 * up in memory; each wait for 'drain' removes its listeners when it ends, however many waits there are.
 */
export function streamIo(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): CliIo {
  return {
    out: (text) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.write(text)) {
          resolve();
          return;
        }
        const drained = () => {
          stdout.off('error', failed);
          resolve();
        };
        const failed = (error: Error) => {
          stdout.off('drain', drained);
          reject(error);
        };
        stdout.once('drain', drained).once('error', failed);
      }),
    err: (text) => void stderr.write(text),
  };
}

/** Collects output in memory, for tests. */
export function bufferIo(): CliIo & { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    stdout: () => stdout,
    stderr: () => stderr,
  };
}
