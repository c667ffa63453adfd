/** Running the CLI in-process and reading what it prints, the way a person or a shell script would. */
import { bufferIo, invoke } from '../../cli/index.ts';

/** `medallion --lake LAKE ARGS...` in this process, with an empty environment: its exit code and output. */
export async function runCli(lake: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = bufferIo();
  const code = await invoke(['--lake', lake, ...args], { io, env: {} });
  return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
}

/**
 * stderr without the `lake: ...` line every lake command starts with (test/cli/global-options.test.ts checks it),
 * for tests about what else a command says.
 */
export function withoutLakeLine(stderr: string): string {
  return stderr.replace(/^lake: .*\n/, '');
}

/** Non-empty lines of a text. */
export function linesOf(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** Lines that look like a Node stack frame; the CLI must never print one. */
export function stackFrames(text: string): string[] {
  return text.split('\n').filter((line) => /^\s{4}at /.test(line));
}

/** The cells of a box table (`┌─┐ │ a │ b │ └─┘`), header row first. */
export function parseBoxTable(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('│'))
    .map((line) =>
      line
        .slice(1, -1)
        .split('│')
        .map((cell) => cell.trim()),
    );
}

/** Box-table rows as objects keyed by the header. */
export function boxTableRecords(text: string): Record<string, string>[] {
  const [header, ...rows] = parseBoxTable(text);
  if (!header) return [];
  return rows.map((cells) => Object.fromEntries(header.map((name, index) => [name, cells[index] ?? ''])));
}

export interface RunLine {
  readonly job: string;
  readonly read: number;
  readonly wrote: Readonly<Record<string, number>>;
  readonly quarantined: number;
}

const RUN_LINE = /^\s*(\S+) SUCCEEDED in \d+\.\d+ s: read (\d+), wrote (.*?)(?:, (\d+) quarantined)?(?:, \d+ duplicates)? \(run \S+\)$/;

/** The `<job> SUCCEEDED in 0.12 s: read N, wrote <table> N, ..., N quarantined (run …)` lines `run` prints. */
export function parseRunLines(text: string): RunLine[] {
  // Lines under a run line say what else happened (rules that did not pass, a high quarantine share).
  const detail = /^\s*(?:(?:warn|quarantine|fail) rule |warning: |-> )/;
  return linesOf(text).filter((line) => !detail.test(line)).map((line) => {
    const match = RUN_LINE.exec(line);
    if (!match) throw new Error(`not a SUCCEEDED line: ${line}`);
    const [, job = '', read = '', wrote = '', quarantined] = match;
    const written = Object.fromEntries([...wrote.matchAll(/([a-z_]+\.[a-z_]+) (\d+)/g)].map(([, table = '', rows = '']) => [table, Number(rows)]));
    return { job, read: Number(read), wrote: written, quarantined: quarantined === undefined ? 0 : Number(quarantined) };
  });
}
