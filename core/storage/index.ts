export type { LocalFiles, ObjectInfo, StagingArea, Storage } from './storage.ts';
export { LocalStorage, compareKeys } from './local-storage.ts';
