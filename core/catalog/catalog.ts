import type { LakeRoot } from '../state/index.ts';

/**
 * Tells query engines which files make up each table. Called after every commit with the new root,
 * so the catalog only ever points at committed versions: locally a SQL file of DuckDB views,
 * in AWS the Glue Data Catalog.
 */
export interface Catalog {
  publish(root: LakeRoot): Promise<void>;
}
