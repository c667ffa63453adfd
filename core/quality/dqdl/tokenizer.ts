import { DqdlSyntaxError } from './errors.ts';

/**
 * DQDL tokens. The language is case sensitive (https://docs.aws.amazon.com/glue/latest/dg/dqdl.html,
 * "DQDL syntax"); rule type names are identifiers and the parser decides what they mean.
 */
export type TokenKind =
  | 'ident' // RuleType names, constant names, function names, keywords (see KEYWORDS)
  | 'string' // "..." with escapes
  | 'number' // 12, 0.9, -5, -0.25
  | 'variable' // $name, a reference to a constant
  | 'op' // = != > >= < <=
  | 'arith' // + - * /
  | '[' | ']' | '(' | ')' | ',' | '{' | '}'
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** The token's text as the parser sees it: a string token's unescaped content, an identifier's name. */
  value: string;
  /** The exact source text, quotes and escapes included. */
  raw: string;
  line: number;
  column: number;
}

/** Words with a fixed meaning in DQDL. They are still tokenized as `ident`; the parser checks them. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'Rules', 'Analyzers', 'and', 'or', 'AND', 'OR', 'between', 'in', 'not', 'NOT', 'matches', 'with', 'threshold', 'where',
  'NULL', 'EMPTY', 'WHITESPACES_ONLY', 'now', 'minutes', 'minute', 'hours', 'hour', 'days', 'day',
]);

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;

/** Kinds after which a '-' is the binary minus, not the sign of a number. */
const VALUE_END: ReadonlySet<TokenKind> = new Set(['number', 'string', 'variable', ')', ']', 'ident']);

/**
 * Splits DQDL text into tokens with 1-based line and column. `#` starts a comment that runs to the end of
 * the line (DQDL reference, "Comments"; the composite-rule examples there also use `#` lines).
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;

  const advance = (n: number): void => {
    for (let k = 0; k < n; k++) {
      if (text[i] === '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
      i++;
    }
  };
  const push = (kind: TokenKind, value: string, raw: string, l: number, c: number): void => {
    tokens.push({ kind, value, raw, line: l, column: c });
  };

  while (i < text.length) {
    const ch = text[i]!;
    const l = line;
    const c = col;
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '\f' || ch === '\v' || ch === '\u00a0') {
      advance(1);
      continue;
    }
    if (ch === '#') {
      while (i < text.length && text[i] !== '\n') advance(1);
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let value = '';
      let closed = false;
      while (j < text.length) {
        const d = text[j]!;
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === '\n') break;
        if (d === '\\' && j + 1 < text.length) {
          const e = text[j + 1]!;
          if (e === '"' || e === '\\') value += e;
          else if (e === 'n') value += '\n';
          else if (e === 't') value += '\t';
          // Any other escape is kept as written, so regular expressions such as "\d+" survive.
          else value += `\\${e}`;
          j += 2;
          continue;
        }
        value += d;
        j++;
      }
      if (!closed) throw new DqdlSyntaxError(l, c, 'expected a closing " for the string that starts here');
      const raw = text.slice(i, j + 1);
      advance(j + 1 - i);
      push('string', value, raw, l, c);
      continue;
    }
    const prev = tokens[tokens.length - 1];
    const signed = ch === '-' && DIGIT.test(text[i + 1] ?? '') && !(prev && VALUE_END.has(prev.kind));
    if (DIGIT.test(ch) || signed) {
      let j = signed ? i + 1 : i;
      while (j < text.length && DIGIT.test(text[j]!)) j++;
      if (text[j] === '.' && DIGIT.test(text[j + 1] ?? '')) {
        j++;
        while (j < text.length && DIGIT.test(text[j]!)) j++;
      }
      if (IDENT_START.test(text[j] ?? '')) {
        throw new DqdlSyntaxError(l, c, `expected a number, found "${text.slice(i, j + 1)}" (put a space between a number and a unit)`);
      }
      const raw = text.slice(i, j);
      advance(j - i);
      push('number', raw, raw, l, c);
      continue;
    }
    if (IDENT_START.test(ch)) {
      let j = i + 1;
      while (j < text.length && IDENT_PART.test(text[j]!)) j++;
      const raw = text.slice(i, j);
      advance(j - i);
      push('ident', raw, raw, l, c);
      continue;
    }
    if (ch === '$') {
      let j = i + 1;
      if (!IDENT_START.test(text[j] ?? '')) throw new DqdlSyntaxError(l, c, 'expected a constant name after "$"');
      while (j < text.length && IDENT_PART.test(text[j]!)) j++;
      const raw = text.slice(i, j);
      advance(j - i);
      push('variable', raw.slice(1), raw, l, c);
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '>=' || two === '<=') {
      advance(2);
      push('op', two, two, l, c);
      continue;
    }
    if (ch === '=' || ch === '>' || ch === '<') {
      advance(1);
      push('op', ch, ch, l, c);
      continue;
    }
    if (ch === '+' || ch === '-' || ch === '*' || ch === '/') {
      advance(1);
      push('arith', ch, ch, l, c);
      continue;
    }
    if (ch === '[' || ch === ']' || ch === '(' || ch === ')' || ch === ',' || ch === '{' || ch === '}') {
      advance(1);
      push(ch, ch, ch, l, c);
      continue;
    }
    throw new DqdlSyntaxError(l, c, `unexpected character "${ch}"`);
  }
  push('eof', '', '', line, col);
  return tokens;
}
