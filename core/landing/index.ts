export { LANDING_RECORD_COLUMNS, batchObjects, countLandingRecords, listLanding, loadLandingSpool, spoolLandingObjects, type LandingSpool } from './landing-records.ts';
export { MAX_RECORD_BYTES } from './spool-lines.ts';
export {
  DEFAULT_LANDING_LIMITS,
  decodeObjectBody,
  isGzip,
  isNewlineDelimited,
  readObjectRecords,
  splitRecords,
  type LandingLimits,
  type SplitRecord,
} from './record-splitter.ts';
export { cutPool } from './cut-pool.ts';
export { firehoseErrorPrefix } from './firehose-layout.ts';
export { checkSpoolSpace, makeSpoolFolder, removeOrphanSpoolFolders } from './spool-folders.ts';
