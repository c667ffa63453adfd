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
