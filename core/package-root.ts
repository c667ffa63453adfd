import { fileURLToPath } from 'node:url';

/**
 * The package's root folder (where package.json and quality/rules/ are): one folder up from core/ in the sources,
 * two from dist/core/ compiled. Files shipped beside the code are found from here, whichever runs.
 */
export const PACKAGE_ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../' : '../../', import.meta.url));
