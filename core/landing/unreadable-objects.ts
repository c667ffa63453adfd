/**
 * Why a landing object could not be read, when the reason is the object itself (no permission, gone since
 * it was listed, not a file, archived), which no retry within the run mends, rather than the store
 * (throttling, network), which fails the run. Kept apart from the rest of landing so the cut workers, which
 * read a folder lake's files themselves, decide as the main thread does.
 */

/**
 * System error codes of a local file (ENXIO and ENODEV: a socket or a device where a file was), and the stores'
 * code for an object that is gone.
 */
export const UNREADABLE_CODES: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EISDIR', 'ELOOP', 'ENOTDIR', 'ENOENT', 'ENXIO', 'ENODEV', 'OBJECT_NOT_FOUND']);

/** S3's answers about one object: no permission (its ACL or its KMS key), gone, or archived. */
const UNREADABLE_S3_ERRORS: ReadonlySet<string> = new Set(['AccessDenied', 'NoSuchKey', 'InvalidObjectState', 'KMSAccessDeniedException', 'KMSDisabledException', 'KMSInvalidStateException']);

/** Whether fetching an object failed because of the object itself (see above). */
export function isUnreadableObjectError(error: unknown): boolean {
  // Stores wrap what the system or S3 said (S3Storage's STORAGE_ERROR): the reason is in the causes.
  for (let current = error; current instanceof Error; current = current.cause) {
    const { code, name } = current as { code?: string; name: string };
    if (UNREADABLE_CODES.has(code ?? '') || UNREADABLE_S3_ERRORS.has(name) || name.startsWith('KMS.')) return true;
  }
  return false;
}
