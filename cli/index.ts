export { EXIT, invoke, type InvokeOptions } from './invoke.ts';
export { bufferIo, processIo, type CliIo } from './io.ts';
