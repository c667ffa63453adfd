import { describe, expect, it } from 'vitest';
import { quoteLiteral } from '../../core/index.ts';
import { typeImagesSql, type AttributeRule } from '../../jobs/silver/index.ts';
import { useEngines } from '../core/test-resources.ts';

const engines = useEngines();

/** Attribute kinds the Todo tables do not use, typed from DynamoDB images exactly. */
const RULES: readonly AttributeRule[] = [
  { attribute: 'active', column: 'active', required: false, kind: { type: 'boolean' } },
  { attribute: 'avatar', column: 'avatar', required: false, kind: { type: 'binary' } },
  { attribute: 'thumbs', column: 'thumbs', required: false, kind: { type: 'binary_set' } },
  { attribute: 'balance', column: 'balance', required: false, kind: { type: 'decimal', scale: 4, invalidCode: 'invalid_balance' } },
  { attribute: 'prefs', column: 'prefs', required: false, kind: { type: 'json' } },
];

async function typeImages(images: readonly unknown[]) {
  const engine = await engines();
  const rows = images.map((image, index) => `(${index}, 'MODIFY', ${quoteLiteral(JSON.stringify(image))}::JSON)`).join(', ');
  const relation = `(SELECT * FROM (VALUES ${rows}) AS t(n, event_name, new_image))`;
  const { rows: typed } = await engine.query(`
    SELECT n, active, hex(avatar) AS avatar, list_transform(thumbs, t -> hex(t)) AS thumbs, balance::VARCHAR AS balance, prefs::VARCHAR AS prefs, reason_code, reason
    FROM (${typeImagesSql(relation, RULES)}) ORDER BY n`);
  return typed;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const hex = (text: string) => Buffer.from(text).toString('hex').toUpperCase();

describe('typing images: booleans, binary, exact decimals, maps and lists', () => {
  it('types every kind exactly, with 38 significant digits and nested types kept', async () => {
    const prefs = { M: { theme: { S: 'dark' }, limits: { L: [{ N: '12345678901234567890123456789012345678' }, { BOOL: true }, { NULL: true }] } } };
    const [row] = await typeImages([
      { active: { BOOL: false }, avatar: { B: b64('\u0000png') }, thumbs: { BS: [b64('a'), b64('b')] }, balance: { N: '1234567890123456789012345678901234.5678' }, prefs },
    ]);
    expect(row).toEqual({
      n: 0, active: false, avatar: hex('\u0000png'), thumbs: [hex('a'), hex('b')], balance: '1234567890123456789012345678901234.5678',
      prefs: JSON.stringify(prefs), reason_code: null, reason: null,
    });
  });

  it('accepts a list where a map or list is declared, and leaves missing attributes NULL', async () => {
    const [row] = await typeImages([{ prefs: { L: [{ S: 'x' }] } }]);
    expect(row).toMatchObject({ active: null, avatar: null, balance: null, prefs: '{"L":[{"S":"x"}]}', reason_code: null });
  });

  it('never rounds: a number that does not fit the declared scale is quarantined, not cut', async () => {
    const rows = await typeImages([
      { balance: { N: '0.12345' } }, // five fraction digits, scale 4
      { balance: { N: '123456789012345678901234567890123456' } }, // 36 integer digits, 34 allowed
      { balance: { N: '1e5' } }, // not plain decimal notation
      { balance: { N: '-0.5' } },
    ]);
    expect(rows.map((row) => [row.reason_code, row.balance])).toEqual([['invalid_balance', null], ['invalid_balance', null], ['invalid_balance', null], [null, '-0.5000']]);
    expect(rows[0]?.reason).toBe('attribute balance is "0.12345", not a decimal number with at most 34 integer and 4 fraction digits');
  });

  it('names both types when an attribute has another type than declared', async () => {
    const rows = await typeImages([{ active: { S: 'yes' } }, { avatar: { B: '***' } }, { prefs: { S: '{}' } }, { thumbs: { SS: ['a'] } }]);
    expect(rows.map((row) => [row.reason_code, row.reason])).toEqual([
      ['wrong_attribute_type', 'attribute active is {"S":"yes"}, expected type BOOL'],
      ['invalid_binary', 'attribute avatar is "***", not base64'],
      ['wrong_attribute_type', 'attribute prefs is {"S":"{}"}, expected type M or L'],
      ['wrong_attribute_type', 'attribute thumbs is {"SS":["a"]}, expected type BS'],
    ]);
  });
});

describe('typing images: maps and lists as typed values', () => {
  const rules: readonly AttributeRule[] = [
    {
      attribute: 'address', column: 'address', required: false,
      kind: { type: 'map', fields: [{ attribute: 'city', column: 'city', tag: 'S' }, { attribute: 'zip', column: 'zip', tag: 'N' }, { attribute: 'verified', column: 'verified', tag: 'BOOL' }] },
    },
    { attribute: 'scores', column: 'scores', required: false, kind: { type: 'list', of: 'N' } },
  ];

  async function typed(images: readonly unknown[]) {
    const engine = await engines();
    const rows = images.map((image, index) => `(${index}, 'MODIFY', ${quoteLiteral(JSON.stringify(image))}::JSON)`).join(', ');
    const { rows: out } = await engine.query(`
      SELECT n, address, scores, reason_code, reason
      FROM (${typeImagesSql(`(SELECT * FROM (VALUES ${rows}) AS t(n, event_name, new_image))`, rules)}) ORDER BY n`);
    return out;
  }

  it('types a map into a struct of its declared fields and a list into a typed list, numbers exact', async () => {
    const rows = await typed([
      { address: { M: { city: { S: 'Lyon' }, zip: { N: '69001' }, verified: { BOOL: true }, extra: { S: 'left out' } } }, scores: { L: [{ N: '1' }, { N: '12345678901234567890123456789012345678' }] } },
      { address: { M: { city: { S: 'Nice' }, zip: { NULL: true } } }, scores: { L: [] } },
    ]);
    expect(rows).toEqual([
      { n: 0, address: { city: 'Lyon', zip: '69001', verified: true }, scores: ['1', '12345678901234567890123456789012345678'], reason_code: null, reason: null },
      { n: 1, address: { city: 'Nice', zip: null, verified: null }, scores: [], reason_code: null, reason: null },
    ]);
  });

  it('quarantines a map whose field, or a list whose member, has another type, naming the expected shape', async () => {
    const rows = await typed([{ address: { M: { zip: { S: '69001' } } } }, { scores: { L: [{ N: '1' }, { S: 'two' }] } }, { scores: { M: {} } }]);
    expect(rows.map((row) => [row.reason_code, row.reason])).toEqual([
      ['wrong_attribute_type', 'attribute address is "{"zip":{"S":"69001"}}", not a map of city: S, zip: N, verified: BOOL'],
      ['wrong_attribute_type', 'attribute scores is "[{"N":"1"},{"S":"two"}]", not a list of N'],
      ['wrong_attribute_type', 'attribute scores is {"M":{}}, expected type L'],
    ]);
  });
});
