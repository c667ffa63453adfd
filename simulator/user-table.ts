import { COUNTRIES, FIRST_NAMES, LAST_NAMES, PLANS, emailFor } from './todo-vocabulary.ts';
import { isoTimestamp } from './utc-time.ts';

export const NO_COUNTRY = 255;

/**
 * Every user's current item in typed arrays, rendered into DynamoDB JSON on demand (see TaskTable).
 * Users sign up in index order, so the signed-up users are always indices 0 .. signedUp-1.
 */
export class UserTable {
  signedUp = 0;
  readonly firstName: Uint8Array;
  readonly lastName: Uint8Array;
  readonly plan: Uint8Array;
  readonly country: Uint8Array;
  readonly removed: Uint8Array;
  readonly createdAtMs: Float64Array;
  readonly lastEventMs: Float64Array;
  readonly lastArrivalMs: Float64Array;

  constructor(readonly capacity: number, readonly idSpace = 0) {
    this.firstName = new Uint8Array(capacity);
    this.lastName = new Uint8Array(capacity);
    this.plan = new Uint8Array(capacity);
    this.country = new Uint8Array(capacity);
    this.removed = new Uint8Array(capacity);
    this.createdAtMs = new Float64Array(capacity);
    this.lastEventMs = new Float64Array(capacity);
    this.lastArrivalMs = new Float64Array(capacity);
  }

  /** `u-000001`; in a later generation's id space, `u-<space>-000001`. */
  userId(index: number): string {
    return `u-${this.idSpace > 0 ? `${this.idSpace}-` : ''}${String(index + 1).padStart(6, '0')}`;
  }

  keysJson(index: number): string {
    return `{"userId":{"S":"${this.userId(index)}"}}`;
  }

  imageJson(index: number): string {
    const { email, name } = this.contact(index);
    let json = `{"userId":{"S":"${this.userId(index)}"},"email":{"S":${JSON.stringify(email)}},"name":{"S":${JSON.stringify(name)}},"plan":{"S":"${PLANS[this.plan[index] ?? 0]}"},"createdAt":{"S":"${isoTimestamp(this.createdAtMs[index] ?? 0)}"}`;
    const country = this.country[index] ?? NO_COUNTRY;
    if (country !== NO_COUNTRY) json += `,"country":{"S":"${COUNTRIES[country]}"}`;
    return `${json}}`;
  }

  keysSizeBytes(index: number): number {
    return 'userId'.length + this.userId(index).length;
  }

  /** DynamoDB's item size (attribute names plus values) of the current item. */
  imageSizeBytes(index: number): number {
    const { email, name } = this.contact(index);
    let sizeBytes = this.keysSizeBytes(index) + 'email'.length + email.length + 'name'.length + name.length;
    sizeBytes += 'plan'.length + (PLANS[this.plan[index] ?? 0]?.length ?? 0) + 'createdAt'.length + 24;
    if ((this.country[index] ?? NO_COUNTRY) !== NO_COUNTRY) sizeBytes += 'country'.length + 2;
    return sizeBytes;
  }

  private contact(index: number): { email: string; name: string } {
    const firstName = FIRST_NAMES[this.firstName[index] ?? 0] ?? '';
    const lastName = LAST_NAMES[this.lastName[index] ?? 0] ?? '';
    return { email: emailFor(firstName, lastName, index + 1), name: `${firstName} ${lastName}` };
  }
}
