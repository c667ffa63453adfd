import { quoteIdentifier, quoteLiteral } from '../../core/index.ts';

/**
 * How one DynamoDB attribute of a new image becomes a typed column. Rules are checked in order; the first
 * failure is the event's quarantine reason (docs/semantics.md, "Silver").
 */
export interface AttributeRule {
  readonly attribute: string;
  readonly column: string;
  readonly required: boolean;
  readonly kind:
    | { readonly type: 'string' }
    | { readonly type: 'enum'; readonly values: readonly string[]; readonly invalidCode: string }
    | { readonly type: 'integer'; readonly min: number; readonly max: number; readonly invalidCode: string }
    | { readonly type: 'date' }
    | { readonly type: 'timestamp' }
    | { readonly type: 'string_set' }
    /** BOOL, as BOOLEAN. */
    | { readonly type: 'boolean' }
    /** B (base64), as BLOB. */
    | { readonly type: 'binary' }
    /** BS, as BLOB[] in the order received. */
    | { readonly type: 'binary_set' }
    /**
     * N as DECIMAL(38, scale), exactly: a number with more fraction digits than `scale`, more than 38 - scale
     * integer digits, or not in plain decimal notation is invalid (quarantined, never rounded).
     */
    | { readonly type: 'decimal'; readonly scale: number; readonly invalidCode: string }
    /** M or L, kept as JSON in DynamoDB's attribute-value form (every nested type exact). */
    | { readonly type: 'json' }
    /** N as its exact decimal text (VARCHAR): any number DynamoDB holds, unrounded. */
    | { readonly type: 'number' }
    /** NS as VARCHAR[] of exact decimal texts. */
    | { readonly type: 'number_set' }
    /**
     * M as a typed STRUCT of declared fields (S and N as text, N exactly; BOOL as BOOLEAN); a missing field is
     * NULL, a field of another type makes the value invalid (`wrong_attribute_type`), undeclared fields are left out.
     */
    | { readonly type: 'map'; readonly fields: readonly { readonly attribute: string; readonly column: string; readonly tag: 'S' | 'N' | 'BOOL' }[] }
    /** L of one scalar type (S and N as text, BOOL) as a typed list; a member of another type makes it invalid. */
    | { readonly type: 'list'; readonly of: 'S' | 'N' | 'BOOL' };
}

const TIMESTAMP_PATTERN = String.raw`\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)`;
const DATE_PATTERN = String.raw`\d{4}-\d{2}-\d{2}`;

type Tag = 'S' | 'N' | 'SS' | 'NS' | 'BOOL' | 'B' | 'BS' | 'M' | 'L';

function expectedTag(rule: AttributeRule): Tag {
  switch (rule.kind.type) {
    case 'integer':
    case 'decimal':
    case 'number':
      return 'N';
    case 'number_set':
      return 'NS';
    case 'string_set':
      return 'SS';
    case 'boolean':
      return 'BOOL';
    case 'binary':
      return 'B';
    case 'binary_set':
      return 'BS';
    case 'json':
    case 'map':
      return 'M';
    case 'list':
      return 'L';
    default:
      return 'S';
  }
}

/** The tags an attribute may carry: a JSON attribute takes a map or a list. */
function acceptedTags(rule: AttributeRule): readonly string[] {
  return rule.kind.type === 'json' ? ['M', 'L'] : [expectedTag(rule)];
}

/** Names of the per-attribute helper columns, computed once per row and read by every check. */
function names(rule: AttributeRule) {
  const base = rule.column;
  return {
    attribute: quoteIdentifier(`_a_${base}`),
    keys: quoteIdentifier(`_k_${base}`),
    value: quoteIdentifier(`_v_${base}`),
    valueType: quoteIdentifier(`_t_${base}`),
    state: quoteIdentifier(`_s_${base}`),
    typed: quoteIdentifier(`_x_${base}`),
  };
}

/** The typed value from the attribute's text value (`_v_`), NULL when it is not valid. */
function typedValue(rule: AttributeRule): string {
  const { value, attribute } = names(rule);
  switch (rule.kind.type) {
    case 'string':
      return value;
    case 'enum':
      return `CASE WHEN ${value} IN (${rule.kind.values.map(quoteLiteral).join(', ')}) THEN ${value} END`;
    case 'integer':
      return `CASE WHEN regexp_full_match(${value}, '[0-9]+') AND try_cast(${value} AS INTEGER) BETWEEN ${rule.kind.min} AND ${rule.kind.max} THEN try_cast(${value} AS INTEGER) END`;
    case 'date':
      return `CASE WHEN regexp_full_match(${value}, '${DATE_PATTERN}') THEN try_cast(${value} AS DATE) END`;
    case 'timestamp':
      return `CASE WHEN regexp_full_match(${value}, '${TIMESTAMP_PATTERN}') THEN try_cast(${value} AS TIMESTAMPTZ)::TIMESTAMP END`;
    case 'string_set':
      return `list_sort(try_cast(json_extract(${attribute}, '$.SS') AS VARCHAR[]))`;
    case 'boolean':
      return `try_cast(json_extract_string(${attribute}, '$.BOOL') AS BOOLEAN)`;
    case 'binary':
      return `try(from_base64(${value}))`;
    case 'binary_set':
      return `list_transform(try_cast(json_extract(${attribute}, '$.BS') AS VARCHAR[]), member -> try(from_base64(member)))`;
    case 'decimal': {
      const integerDigits = 38 - rule.kind.scale;
      const fraction = rule.kind.scale > 0 ? `(\\.[0-9]{1,${rule.kind.scale}})?` : '';
      return `CASE WHEN regexp_full_match(${value}, '-?0*[0-9]{1,${integerDigits}}${fraction}') THEN try_cast(${value} AS DECIMAL(38, ${rule.kind.scale})) END`;
    }
    case 'json':
      return `json_extract(${attribute}, '$')`;
    case 'number':
      return `CASE WHEN regexp_full_match(${value}, '-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?') THEN ${value} END`;
    case 'number_set':
      return `try_cast(json_extract(${attribute}, '$.NS') AS VARCHAR[])`;
    case 'map': {
      const field = (entry: { attribute: string; tag: string }) => `json_extract(${attribute}, ${quoteLiteral(`$.M."${entry.attribute}"`)})`;
      const fieldOk = (entry: { attribute: string; tag: string }) =>
        `(${field(entry)} IS NULL OR json_extract_string(${field(entry)}, '$.NULL') = 'true' OR json_keys(${field(entry)}) = [${quoteLiteral(entry.tag)}])`;
      const value = (entry: { attribute: string; tag: string }) =>
        entry.tag === 'BOOL' ? `try_cast(json_extract_string(${field(entry)}, '$.BOOL') AS BOOLEAN)` : `json_extract_string(${field(entry)}, ${quoteLiteral(`$.${entry.tag}`)})`;
      return `CASE WHEN ${rule.kind.fields.map(fieldOk).join(' AND ')} THEN struct_pack(${rule.kind.fields.map((entry) => `${quoteIdentifier(entry.column)} := ${value(entry)}`).join(', ')}) END`;
    }
    case 'list': {
      const tag = rule.kind.of;
      const members = `json_extract(${attribute}, '$.L')::JSON[]`;
      const memberOk = `list_bool_and([json_keys(member) = [${quoteLiteral(tag)}] FOR member IN ${members}])`;
      const memberValue = tag === 'BOOL' ? `try_cast(json_extract_string(member, '$.BOOL') AS BOOLEAN)` : `json_extract_string(member, ${quoteLiteral(`$.${tag}`)})`;
      return `CASE WHEN coalesce(${memberOk}, true) THEN [${memberValue} FOR member IN ${members}] END`;
    }
  }
}

function invalidCode(rule: AttributeRule): string | undefined {
  switch (rule.kind.type) {
    case 'enum':
    case 'integer':
    case 'decimal':
      return rule.kind.invalidCode;
    case 'binary':
      return 'invalid_binary';
    case 'number':
      return 'invalid_number';
    case 'map':
    case 'list':
      return 'wrong_attribute_type';
    case 'date':
      return 'invalid_date';
    case 'timestamp':
      return 'invalid_timestamp';
    default:
      return undefined;
  }
}

function allowedText(rule: AttributeRule): string {
  switch (rule.kind.type) {
    case 'enum':
      return `one of ${rule.kind.values.join(', ')}`;
    case 'integer':
      return `an integer from ${rule.kind.min} to ${rule.kind.max}`;
    case 'decimal':
      return `a decimal number with at most ${38 - rule.kind.scale} integer and ${rule.kind.scale} fraction digits`;
    case 'binary':
      return 'base64';
    case 'number':
      return 'a number';
    case 'map':
      return `a map of ${rule.kind.fields.map((entry) => `${entry.attribute}: ${entry.tag}`).join(', ')}`;
    case 'list':
      return `a list of ${rule.kind.of}`;
    case 'date':
      return 'a YYYY-MM-DD date';
    case 'timestamp':
      return 'an ISO-8601 timestamp with a zone';
    default:
      return 'valid';
  }
}

/**
 * `state` of an attribute: 'absent' (missing or `{"NULL": true}`), 'wrong_type' (another tag, more than
 * one tag, or a value whose JSON type does not fit the tag), 'invalid' (right type, value not allowed), 'ok'.
 */
function stateExpression(rule: AttributeRule): string {
  const { attribute, keys, valueType } = names(rule);
  const tag = expectedTag(rule);
  const stringMembers = (set: string) =>
    `${valueType} = 'ARRAY' AND json_array_length(${attribute}, '$.${set}') > 0 AND list_bool_and([json_type(member) = 'VARCHAR' FOR member IN json_extract(${attribute}, '$.${set}')::JSON[]])`;
  const shapes: Readonly<Record<Tag, string>> = {
    S: `${valueType} = 'VARCHAR'`,
    N: `${valueType} = 'VARCHAR'`,
    B: `${valueType} = 'VARCHAR'`,
    SS: stringMembers('SS'),
    NS: stringMembers('NS'),
    BS: stringMembers('BS'),
    BOOL: `${valueType} = 'BOOLEAN'`,
    // A map or a list: the one key is M or L, and the value's JSON type is checked below.
    M: `json_type(${attribute}, '$.' || ${keys}[1]) = CASE ${keys}[1] WHEN 'M' THEN 'OBJECT' ELSE 'ARRAY' END`,
    L: `json_type(${attribute}, '$.L') = 'ARRAY'`,
  };
  const tags = acceptedTags(rule);
  const tagOk = tags.length === 1 ? `${keys} IS NOT DISTINCT FROM [${quoteLiteral(tag)}]` : `len(${keys}) = 1 AND ${keys}[1] IN (${tags.map(quoteLiteral).join(', ')})`;
  const invalid = invalidCode(rule) === undefined ? '' : `WHEN ${names(rule).typed} IS NULL THEN 'invalid'`;
  return `CASE
      WHEN ${attribute} IS NULL OR ${attribute} = '{"NULL":true}' THEN 'absent'
      WHEN NOT coalesce(${tagOk}, false) OR NOT coalesce(${shapes[tag]}, false) THEN 'wrong_type'
      ${invalid}
      ELSE 'ok' END`;
}

function reasonBranches(rules: readonly AttributeRule[], output: 'code' | 'reason'): string {
  return rules
    .map((rule) => {
      const { state, attribute, value } = names(rule);
      const name = rule.attribute;
      const tag = expectedTag(rule);
      const pick = (code: string, reason: string) => (output === 'code' ? quoteLiteral(code) : reason);
      const branches: string[] = [];
      if (rule.required) branches.push(`WHEN ${state} = 'absent' THEN ${pick('missing_attribute', quoteLiteral(`required attribute ${name} is missing`))}`);
      branches.push(
        `WHEN ${state} = 'wrong_type' THEN ${pick('wrong_attribute_type', `'attribute ${name} is ' || ${attribute} || ', expected type ${acceptedTags(rule).join(' or ')}'`)}`,
      );
      const code = invalidCode(rule);
      if (code !== undefined) {
        branches.push(`WHEN ${state} = 'invalid' THEN ${pick(code, `'attribute ${name} is "' || ${value} || '", not ${allowedText(rule)}'`)}`);
      }
      return branches.join('\n');
    })
    .join('\n');
}

/**
 * The JSON path of an image attribute: `$."name"`, or a JSON Pointer (`/name`, with `~` and `/` escaped) for a
 * name a quoted path cannot hold (one with a double quote or a backslash).
 */
export function attributePath(attribute: string): string {
  return /^[^"\\]*$/.test(attribute) ? `$."${attribute}"` : `/${attribute.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/**
 * SELECT over `relation` (bronze rows) adding one typed column per rule, plus `reason_code` and `reason`
 * (NULL when the event is valid). REMOVE events are not typed and always pass. Each image is parsed once;
 * each attribute's small JSON is then read a fixed few times, in layers, so checks never repeat work.
 */
export function typeImagesSql(relation: string, rules: readonly AttributeRule[], options: { frozen?: { readonly otherAttributes: readonly string[] } } = {}): string {
  const paths = `[${rules.map((rule) => quoteLiteral(attributePath(rule.attribute))).join(', ')}]`;
  const helpers = rules.flatMap((rule) => Object.values(names(rule)));
  const cut = `SELECT *, ${rules.map((rule, index) => `_attributes[${index + 1}] AS ${names(rule).attribute}`).join(', ')}
               FROM (SELECT *, json_extract(new_image, ${paths}) AS _attributes FROM ${relation})`;
  const read = `SELECT *, ${rules
    .map((rule) => {
      const { attribute, keys, value, valueType } = names(rule);
      const tag = quoteLiteral(`$.${expectedTag(rule)}`);
      return `json_keys(${attribute}) AS ${keys}, json_extract_string(${attribute}, ${tag}) AS ${value}, json_type(${attribute}, ${tag}) AS ${valueType}`;
    })
    .join(', ')} FROM (${cut})`;
  const typed = `SELECT *, ${rules.map((rule) => `${typedValue(rule)} AS ${names(rule).typed}`).join(', ')} FROM (${read})`;
  const judged = `SELECT *, ${rules.map((rule) => `${stateExpression(rule)} AS ${names(rule).state}`).join(', ')} FROM (${typed})`;
  const columns = rules
    .map((rule) => `CASE WHEN event_name <> 'REMOVE' AND ${names(rule).state} = 'ok' THEN ${names(rule).typed} END AS ${quoteIdentifier(rule.column)}`)
    .join(',\n');
  // A frozen schema: an image attribute that is neither a rule's nor a key's is not accepted.
  const known = options.frozen ? [...rules.map((rule) => rule.attribute), ...options.frozen.otherAttributes] : [];
  const unknown = `list_filter(json_keys(new_image), attribute -> attribute NOT IN (${known.map(quoteLiteral).join(', ')}))`;
  const frozenCode = options.frozen ? `WHEN len(${unknown}) > 0 THEN 'unknown_attribute'` : '';
  const frozenReason = options.frozen
    ? `WHEN len(${unknown}) > 0 THEN 'attribute' || CASE WHEN len(${unknown}) > 1 THEN 's ' ELSE ' ' END || array_to_string(list_sort(${unknown}), ', ') ||
         ' not declared, and the schema is frozen (declared: ${known.join(', ')})'`
    : '';
  return `
    SELECT * EXCLUDE (_attributes, ${helpers.join(', ')}),
           ${columns},
           CASE WHEN event_name = 'REMOVE' THEN NULL
                WHEN new_image IS NULL THEN 'missing_new_image'
                ${frozenCode}
                ${reasonBranches(rules, 'code')}
           END AS reason_code,
           CASE WHEN event_name = 'REMOVE' THEN NULL
                WHEN new_image IS NULL THEN 'an ' || event_name || ' event has no NewImage'
                ${frozenReason}
                ${reasonBranches(rules, 'reason')}
           END AS reason
    FROM (${judged})`;
}
