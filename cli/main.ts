import { invoke } from './invoke.ts';
import { processIo } from './io.ts';
import { installSignalHandlers, signalExitCode, StopRequest } from './stop.ts';

const io = processIo();
const stop = new StopRequest();
installSignalHandlers(stop, (text) => io.err(text));
const code = await invoke(process.argv.slice(2), { io, stop });
// Stopped by a signal: the shell's code for it (130 for Ctrl-C), after the runs stopped cleanly.
process.exitCode = stop.requested ? signalExitCode(stop.requested) : code;
