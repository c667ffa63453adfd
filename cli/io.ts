/** Where a command writes. Tests pass a buffer; the real CLI passes the process streams. */
export interface CliIo {
  out(text: string): void | Promise<void>;
  err(text: string): void;
}

export function processIo(): CliIo {
  return {
    out: (text) =>
      new Promise<void>((resolve, reject) => {
        // Respect backpressure so a large query result streams instead of piling up in memory.
        if (process.stdout.write(text)) resolve();
        else process.stdout.once('drain', resolve).once('error', reject);
      }),
    err: (text) => void process.stderr.write(text),
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
