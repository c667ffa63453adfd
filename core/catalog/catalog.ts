import type { LakeRoot } from '../state/index.ts';

/**
 * Tells query engines which files make up each table. Called after every commit with the new root,
 * so the catalog only ever points at committed versions: locally a SQL file of DuckDB views,
 * in AWS the Glue Data Catalog.
 */
export interface Catalog {
  /**
   * Makes the catalog show `root` (or a newer root). `tables` names what the commit wrote: a catalog may
   * limit its work to those (the Glue catalog does, so a job touches only the Glue tables its role may).
   */
  publish(root: LakeRoot, options?: PublishOptions): Promise<void>;
}

export interface PublishOptions {
  readonly tables?: readonly string[];
  /**
   * Show the lake's version even where the catalog shows a newer one (the Glue catalog refuses to move a
   * table back otherwise), and write every partition's symlink manifest anew: for a lake whose state was
   * replaced or restored from a backup, or whose manifests were removed.
   */
  readonly force?: boolean;
  /**
   * The jobs whose commit this is. Of the tables every job appends to (the quarantine, quality.results,
   * quality.rejected_rows: partitioned by job), only these jobs' partitions are shown, as a job's role may write
   * only its own partitions' symlink manifests; each job's next publish shows its own. Absent: every
   * partition (`medallion catalog publish`, with an operator's rights).
   */
  readonly jobs?: readonly string[];
}
