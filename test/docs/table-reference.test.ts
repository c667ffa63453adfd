import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderTableReference } from '../../core/table/index.ts';
import { PIPELINE_TABLES } from '../../jobs/index.ts';

describe('docs/tables.md', () => {
  it('matches the table specs the jobs use (run `npm run docs` after changing a table)', async () => {
    const committed = await readFile(new URL('../../docs/tables.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderTableReference(PIPELINE_TABLES));
  });

  it('lists every table and every column with its type', () => {
    const reference = renderTableReference(PIPELINE_TABLES);
    for (const table of PIPELINE_TABLES) {
      expect(reference).toContain(`### \`${table.name}\``);
      for (const column of table.columns) expect(reference).toContain(`| \`${column.name}\` | ${column.type.replaceAll('|', '\\|')} |`);
    }
  });
});
