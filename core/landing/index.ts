export { LANDING_RECORD_COLUMNS, MAX_RECORD_BYTES, batchObjects, loadLandingSpool, spoolLandingObjects, type LandingSpool } from './landing-records.ts';
export { decodeObjectBody, isGzip, isNewlineDelimited, readObjectRecords, splitRecords, type SplitRecord } from './record-splitter.ts';
export { firehoseErrorPrefix } from './firehose-layout.ts';
export { checkSpoolSpace, makeSpoolFolder, removeOrphanSpoolFolders } from './spool-folders.ts';
