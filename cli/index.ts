export { EXIT, invoke, type InvokeOptions } from './invoke.ts';
export { bufferIo, processIo, streamIo, type CliIo } from './io.ts';
