// The cut pool's worker threads start here. A worker does not inherit the module hooks of the thread
// that made it, so the TypeScript worker is loaded through tsx, as the CLI is (bin/medallion.js).
import { register } from 'tsx/esm/api';

register();
await import('./cut-worker.ts');
