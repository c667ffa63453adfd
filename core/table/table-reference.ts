import { LAYERS, layerOf, type TableSpec } from './table-spec.ts';

/**
 * The analysts' table reference as markdown: every table with its meaning, how it is partitioned and
 * written, and every column with its type and meaning. Generated from the same specs the jobs use, so
 * it cannot drift from the code (a test compares it with docs/tables.md).
 */
export function renderTableReference(specs: readonly TableSpec[]): string {
  const escape = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [
    '# Table reference',
    '',
    '<!-- Generated from the table specs by `npm run docs`; a test fails when it is out of date. -->',
    '',
    'Every table of the lake, named as analysts query it (`layer.table`, the same in Athena and locally).',
    'Timestamps are UTC. The exact rules behind each column are in [semantics.md](semantics.md).',
    '',
  ];
  const sorted = [...specs].sort((a, b) => a.name.localeCompare(b.name));
  for (const layer of LAYERS) {
    const tables = sorted.filter((spec) => layerOf(spec.name) === layer);
    if (tables.length === 0) continue;
    lines.push(`## ${layer}`, '');
    for (const spec of tables) {
      const partitioned = spec.partitionBy.length > 0 ? `partitioned by ${spec.partitionBy.map((key) => `\`${key}\``).join(', ')}` : 'not partitioned';
      const written = spec.writeMode === 'append' ? 'runs add rows' : 'runs replace what they recompute';
      lines.push(`### \`${spec.name}\``, '', `${escape(spec.description)} (${partitioned}; ${written}.)`, '', '| column | type | meaning |', '|---|---|---|');
      for (const column of spec.columns) {
        const personal = column.personalData ? ` **Personal data (${column.personalData}).**` : '';
        lines.push(`| \`${column.name}\` | ${escape(column.type)} | ${escape(column.description)}${personal} |`);
      }
      lines.push('');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
