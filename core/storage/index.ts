export type { ListOptions, LocalFiles, ObjectInfo, StagingArea, Storage } from './storage.ts';
export { LocalStorage, compareKeys } from './local-storage.ts';
export { parseS3Uri, type S3Location } from './s3-uri.ts';
// S3Storage is imported from './s3-storage.ts': it loads the AWS SDK's S3 client, which a folder lake never needs.
