export type { Catalog } from './catalog.ts';
export { attachTables, readManifests, tableRelation } from './attach-tables.ts';
export { LocalCatalog } from './local-catalog.ts';
