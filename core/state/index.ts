export { EMPTY_ROOT, type LakeRoot, type ListRecordsOptions, type LockLease, type LockState, type StateStore, type TableRef } from './state-store.ts';
export { FileStateStore } from './file-state-store.ts';
// DynamoDbStateStore is imported from './dynamodb-state-store.ts': it loads the AWS SDK's DynamoDB client.
export { readBookmark, readManifest } from './state-documents.ts';
export {
  bookmarkDocumentPrefix, CATALOG_PUBLISH_RECORD, MAINTENANCE_LOCK, manifestDocumentId, manifestDocumentPrefix, ROOT_KEY_PATTERNS, runRecordCollection, stateItemKey, VACUUM_RECORD,
} from './state-keys.ts';
