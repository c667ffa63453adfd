import Table from 'cli-table3';
import stringWidth from 'string-width';
import { stringify } from 'csv-stringify/sync';
import type { ResultColumn, ResultRow, ResultValue } from '../core/engine/index.ts';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

function cellText(value: ResultValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * A boxed text table, numbers right-aligned. Given a `width` (the terminal's), a table wider than it wraps its widest
 * text columns (never numbers, and never an id, which must stay whole to be copied) until it fits; one that cannot fit
 * even so is shown a row at a time, a field a line (as psql's expanded display). Without a width (output to a file or
 * a pipe) nothing is wrapped.
 */
export function renderTable(columns: readonly ResultColumn[], rows: readonly ResultRow[], width?: number): string {
  const numeric = columns.map((column) => /INT|DOUBLE|DECIMAL|FLOAT|REAL/.test(column.type) && !column.type.endsWith('[]'));
  const cells = rows.map((row) => columns.map((column) => cellText(row[column.name] ?? null)));
  const widths = fitWidths(columns, numeric, cells, width);
  if (widths && width !== undefined && widths.reduce((sum, content) => sum + content + 3, 1) > width) return expanded(columns, cells, width);
  const table = new Table({
    head: columns.map((column) => column.name),
    colAligns: numeric.map((isNumber) => (isNumber ? 'right' : 'left')),
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(widths ? { colWidths: widths.map((content) => content + 2) } : {}),
  });
  // Wrapped here, by terminal columns (cli-table3's own wrapping cuts wide characters short).
  for (const row of cells) table.push(widths ? row.map((cell, index) => wrapColumns(cell, widths[index]!)) : row);
  return `${table.toString()}\n`;
}

/** `text` in lines of at most `width` terminal columns (its own line breaks kept). */
function wrapColumns(text: string, width: number): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    let current = '';
    let used = 0;
    for (const character of line) {
      const size = stringWidth(character);
      if (used + size > width && current !== '') {
        lines.push(current);
        current = '';
        used = 0;
      }
      current += character;
      used += size;
    }
    lines.push(current);
  }
  return lines.join('\n');
}

/** A column of ids to copy whole: named `..._id`, or holding run ids (`lock status`'s owner). */
function isIdColumn(column: ResultColumn, values: readonly string[]): boolean {
  return /(^|_)id$/.test(column.name) || values.some((value) => /^jr_[0-9a-f]{16,}$/.test(value));
}

/** Each row as `name: value` lines under a `-[ RECORD n ]-` rule, values wrapped at `width` (ids kept whole). */
function expanded(columns: readonly ResultColumn[], cells: readonly string[][], width: number): string {
  const label = Math.max(...columns.map((column) => column.name.length));
  const lines: string[] = [];
  cells.forEach((row, rowIndex) => {
    const rule = `-[ RECORD ${rowIndex + 1} ]`;
    lines.push(`${rule}${'-'.repeat(Math.max(0, Math.min(width, label + 30) - rule.length))}`);
    columns.forEach((column, index) => {
      const value = row[index] ?? '';
      const room = Math.max(8, width - label - 3);
      const whole = isIdColumn(column, [value]);
      if (whole && value.length > room) {
        // An id stays whole, on a line of its own, so it can be copied.
        lines.push(`${column.name.padEnd(label)} |`, value);
        return;
      }
      const parts = value.length <= room ? [value] : (value.match(new RegExp(`[\\s\\S]{1,${room}}`, 'g')) ?? ['']);
      lines.push(`${column.name.padEnd(label)} | ${parts[0]}`);
      for (const part of parts.slice(1)) lines.push(`${' '.repeat(label)} | ${part}`);
    });
  });
  return `${lines.join('\n')}\n`;
}

/** Content widths that fit `width`, or undefined when the table fits as it is (or no width is known). */
function fitWidths(columns: readonly ResultColumn[], numeric: readonly boolean[], cells: readonly string[][], width: number | undefined): number[] | undefined {
  if (width === undefined || columns.length === 0) return undefined;
  // Terminal columns, not code units: a CJK character takes two, a combining mark none (as cli-table3 measures).
  const longest = (text: string) => Math.max(...text.split('\n').map((line) => stringWidth(line)));
  const natural = columns.map((column, index) => Math.max(column.name.length, ...cells.map((row) => longest(row[index] ?? ''))));
  // Each column takes its content, a space either side and a border; the table one more border.
  const total = (widths: readonly number[]) => widths.reduce((sum, content) => sum + content + 3, 1);
  if (total(natural) <= width) return undefined;
  const wrappable = columns.map((column, index) => !numeric[index] && !isIdColumn(column, cells.map((row) => row[index] ?? '')));
  const floor = columns.map((column) => Math.max(column.name.length, 8));
  const widths = [...natural];
  while (total(widths) > width) {
    let widest = -1;
    for (let index = 0; index < widths.length; index += 1) {
      if (wrappable[index] && widths[index]! > floor[index]! && (widest < 0 || widths[index]! > widths[widest]!)) widest = index;
    }
    if (widest < 0) break;
    widths[widest] = Math.max(floor[widest]!, widths[widest]! - Math.max(1, total(widths) - width));
  }
  return widths;
}

/**
 * Writes rows chunk by chunk in one format, so a large result never sits whole in memory
 * (except `table`, which needs every width and is capped by the caller).
 */
export class RowWriter {
  private wroteRows = 0;
  private readonly format: OutputFormat;
  private readonly write: (text: string) => void | Promise<void>;

  constructor(format: OutputFormat, write: (text: string) => void | Promise<void>) {
    this.format = format;
    this.write = write;
  }

  async rows(columns: readonly ResultColumn[], rows: readonly ResultRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.format === 'json') {
      const text = rows.map((row) => JSON.stringify(row)).join(',\n');
      await this.write(`${this.wroteRows === 0 ? '[\n' : ',\n'}${text}`);
    } else if (this.format === 'csv') {
      const header = this.wroteRows === 0 ? stringify([columns.map((column) => column.name)]) : '';
      const body = stringify(rows.map((row) => columns.map((column) => csvCell(row[column.name] ?? null))));
      await this.write(header + body);
    }
    this.wroteRows += rows.length;
  }

  async end(columns: readonly ResultColumn[]): Promise<void> {
    if (this.format === 'json') await this.write(this.wroteRows === 0 ? '[]\n' : '\n]\n');
    if (this.format === 'csv' && this.wroteRows === 0) await this.write(stringify([columns.map((column) => column.name)]));
  }
}

function csvCell(value: ResultValue): string {
  if (value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
