export { LANDING_RECORD_COLUMNS, loadLandingRecords, type LandingLoadResult } from './landing-records.ts';
export { decodeObjectBody, isGzip, isNewlineDelimited, readObjectRecords, splitRecords, type SplitRecord } from './record-splitter.ts';
