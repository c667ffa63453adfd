import { statSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';

const LakeDirectorySchema = z.string().trim().min(1, 'must not be empty');

/** The lake folder: `--lake`, else `MEDALLION_LAKE`, else `./lake`. */
export function resolveLakeDirectory(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const candidate = option ?? env.MEDALLION_LAKE ?? './lake';
  const parsed = LakeDirectorySchema.safeParse(candidate);
  if (!parsed.success) {
    throw new ConfigError('LAKE_OPTION_INVALID', `the lake folder ${option !== undefined ? '(--lake)' : '(MEDALLION_LAKE)'} ${parsed.error.issues[0]?.message}`, {
      hint: 'pass --lake DIR or set MEDALLION_LAKE',
    });
  }
  return parsed.data;
}

/**
 * Refuses a folder lake that does not exist (a typo in --lake must not create an empty lake and report
 * runs that read nothing) or is not a folder. Commands that make a lake (`generate`, `demo`) skip it.
 */
export function checkLakeFolder(directory: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(directory).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new ConfigError('LAKE_NOT_FOUND', `there is no lake at ${directory}`, {
      hint: 'check --lake (or MEDALLION_LAKE); `medallion generate` or `medallion demo` makes a lake there',
    });
  }
  if (!isFolder) throw new ConfigError('LAKE_NOT_A_FOLDER', `${directory} is a file, not a lake folder`, { hint: 'pass --lake DIR naming the lake folder' });
}
