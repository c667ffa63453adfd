import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
import type { ResultColumn, ResultRow, ResultValue } from '../core/engine/index.ts';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

function cellText(value: ResultValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A boxed text table, numbers right-aligned. */
export function renderTable(columns: readonly ResultColumn[], rows: readonly ResultRow[]): string {
  const numeric = columns.map((column) => /INT|DOUBLE|DECIMAL|FLOAT|REAL/.test(column.type) && !column.type.endsWith('[]'));
  const table = new Table({
    head: columns.map((column) => column.name),
    colAligns: numeric.map((isNumber) => (isNumber ? 'right' : 'left')),
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) table.push(columns.map((column) => cellText(row[column.name] ?? null)));
  return `${table.toString()}\n`;
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
