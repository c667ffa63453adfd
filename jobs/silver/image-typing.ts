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
    | { readonly type: 'string_set' };
}

const TIMESTAMP_PATTERN = String.raw`\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)`;
const DATE_PATTERN = String.raw`\d{4}-\d{2}-\d{2}`;

function tagOf(rule: AttributeRule): 'S' | 'N' | 'SS' {
  switch (rule.kind.type) {
    case 'integer':
      return 'N';
    case 'string_set':
      return 'SS';
    default:
      return 'S';
  }
}

/** The attribute's own small JSON, cut out of the image once (see typeImagesSql). */
function attributeRef(rule: AttributeRule): string {
  return quoteIdentifier(`attribute_${rule.column}`);
}

/** The attribute's type tag (`S`, `N`, ...), NULL when absent or `{"NULL": true}`. */
function tagExpression(rule: AttributeRule): string {
  const attribute = attributeRef(rule);
  return `CASE WHEN json_type(${attribute}) = 'OBJECT' AND json_keys(${attribute}) <> ['NULL'] THEN json_keys(${attribute})[1] END`;
}

function rawValue(rule: AttributeRule): string {
  return `json_extract_string(${attributeRef(rule)}, '$.${tagOf(rule)}')`;
}

/** The typed value, NULL when absent or not valid. */
function typedValue(rule: AttributeRule): string {
  const value = rawValue(rule);
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
      return `list_sort(try_cast(json_extract(${attributeRef(rule)}, '$.SS') AS VARCHAR[]))`;
  }
}

/** Whether the value under the tag has the JSON type the tag promises. */
function valueShapeOk(rule: AttributeRule): string {
  const valueType = `json_type(${attributeRef(rule)}, '$.${tagOf(rule)}')`;
  if (rule.kind.type === 'string_set') {
    const members = `json_extract(${attributeRef(rule)}, '$.SS')::JSON[]`;
    return `(${valueType} = 'ARRAY' AND len(${members}) > 0 AND list_bool_and([json_type(x) = 'VARCHAR' FOR x IN ${members}]))`;
  }
  return `${valueType} = 'VARCHAR'`;
}

function invalidCode(rule: AttributeRule): string {
  switch (rule.kind.type) {
    case 'enum':
    case 'integer':
      return rule.kind.invalidCode;
    case 'date':
      return 'invalid_date';
    case 'timestamp':
      return 'invalid_timestamp';
    default:
      return 'wrong_attribute_type';
  }
}

/** CASE branches (in rule order) yielding `reason_code` and `reason` for the first failing rule. */
function failureBranches(rules: readonly AttributeRule[], output: 'code' | 'reason'): string {
  return rules
    .map((rule) => {
      const tag = tagExpression(rule);
      const tagName = quoteLiteral(tagOf(rule));
      const name = rule.attribute;
      const pick = (code: string, reason: string) => (output === 'code' ? quoteLiteral(code) : reason);
      const branches: string[] = [];
      if (rule.required) branches.push(`WHEN ${tag} IS NULL THEN ${pick('missing_attribute', quoteLiteral(`required attribute ${name} is missing`))}`);
      branches.push(
        `WHEN ${tag} IS NOT NULL AND (${tag} <> ${tagName} OR NOT coalesce(${valueShapeOk(rule)}, false)) THEN ${pick(
          'wrong_attribute_type',
          `'attribute ${name} has type ' || ${tag} || ', expected ' || ${tagName}`,
        )}`,
      );
      if (rule.kind.type !== 'string' && rule.kind.type !== 'string_set') {
        const allowed =
          rule.kind.type === 'enum'
            ? `one of ${rule.kind.values.join(', ')}`
            : rule.kind.type === 'integer'
              ? `an integer from ${rule.kind.min} to ${rule.kind.max}`
              : rule.kind.type === 'date'
                ? 'a YYYY-MM-DD date'
                : 'an ISO-8601 timestamp with a zone';
        branches.push(
          `WHEN ${tag} IS NOT NULL AND (${typedValue(rule)}) IS NULL THEN ${pick(
            invalidCode(rule),
            `'attribute ${name} is ' || coalesce('"' || ${rawValue(rule)} || '"', 'empty') || ', not ${allowed}'`,
          )}`,
        );
      }
      return branches.join('\n');
    })
    .join('\n');
}

/**
 * SELECT over `relation` (bronze rows) adding one typed column per rule, plus `reason_code` and `reason`
 * (NULL when the event is valid). REMOVE events are not typed and always pass.
 */
export function typeImagesSql(relation: string, rules: readonly AttributeRule[]): string {
  const columns = rules.map((rule) => `CASE WHEN event_name <> 'REMOVE' THEN ${typedValue(rule)} END AS ${quoteIdentifier(rule.column)}`).join(',\n');
  // Parse each image once, cutting out every attribute's small JSON; every check then reads those.
  const paths = `[${rules.map((rule) => quoteLiteral(`$."${rule.attribute}"`)).join(', ')}]`;
  const attributes = rules.map((rule, index) => `attributes[${index + 1}] AS ${attributeRef(rule)}`).join(', ');
  const split = `(SELECT *, ${attributes} FROM (SELECT *, json_extract(new_image, ${paths}) AS attributes FROM ${relation}))`;
  return `
    SELECT * EXCLUDE (attributes, ${rules.map(attributeRef).join(', ')}),
           ${columns},
           CASE WHEN event_name = 'REMOVE' THEN NULL
                WHEN new_image IS NULL THEN 'missing_new_image'
                ${failureBranches(rules, 'code')}
           END AS reason_code,
           CASE WHEN event_name = 'REMOVE' THEN NULL
                WHEN new_image IS NULL THEN 'an ' || event_name || ' event has no NewImage'
                ${failureBranches(rules, 'reason')}
           END AS reason
    FROM ${split}`;
}

