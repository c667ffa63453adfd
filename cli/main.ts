import { invoke } from './invoke.ts';
import { processIo } from './io.ts';

process.exitCode = await invoke(process.argv.slice(2), { io: processIo() });
