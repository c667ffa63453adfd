import { landingPrefix } from '../layout/index.ts';

/**
 * Where Firehose puts what it could not deliver for a landing source: `landing/<source>/errors/`, inside
 * the source's prefix, so the bronze job's listing and bookmark cover it and every such record is
 * quarantined with its errorCode (reason `firehose_error`), never read as data. The CDK app sets the
 * delivery stream's ErrorOutputPrefix to this folder followed by `!{firehose:error-output-type}/` and
 * the time folders.
 *
 * @example
 * firehoseErrorPrefix('tasks'); // 'landing/tasks/errors/'
 */
export function firehoseErrorPrefix(source: string): string {
  return `${landingPrefix(source)}errors/`;
}
