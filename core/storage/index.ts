export type { ListOptions, LocalFiles, ObjectInfo, StagingArea, Storage } from './storage.ts';
export { LocalStorage, compareKeys } from './local-storage.ts';
export { S3Storage, parseS3Uri, type S3Location, type S3StorageOptions } from './s3-storage.ts';
