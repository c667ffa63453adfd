import { writeFile } from 'node:fs/promises';
import { renderTableReference } from '../core/table/index.ts';
import { PIPELINE_TABLES } from '../jobs/index.ts';

/** `npm run docs`: rewrites docs/tables.md from the table specs. */
await writeFile(new URL('../docs/tables.md', import.meta.url), renderTableReference(PIPELINE_TABLES));
process.stdout.write('wrote docs/tables.md\n');
