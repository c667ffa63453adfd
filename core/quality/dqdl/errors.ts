import { MedallionError } from '../../errors.ts';

/**
 * A DQDL document that does not follow the grammar. `line` and `column` are 1-based and point at the
 * first character of the offending token; `expected` says what the parser wanted there.
 *
 * @example
 * // line 3, column 17: expected a threshold value after ">"
 */
export class DqdlSyntaxError extends MedallionError {
  readonly line: number;
  readonly column: number;
  readonly expected: string;

  constructor(line: number, column: number, expected: string, options: { hint?: string } = {}) {
    super('DQDL_SYNTAX', `line ${line}, column ${column}: ${expected}`, {
      hint: options.hint ?? 'see the DQDL reference: https://docs.aws.amazon.com/glue/latest/dg/dqdl.html',
      exitCode: 2,
    });
    this.line = line;
    this.column = column;
    this.expected = expected;
  }
}
