import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { FEATURE_FLAGS } from '../../infra/feature-flags.ts';

const recommended = createRequire(import.meta.url)('aws-cdk-lib/recommended-feature-flags.json') as Record<string, unknown>;

describe('CDK feature flags', () => {
  it('decide every flag the installed aws-cdk-lib recommends (an upgrade that adds one fails here until it is decided)', () => {
    expect(Object.keys(recommended).filter((flag) => !(flag in FEATURE_FLAGS))).toEqual([]);
  });

  it('follow the recommendation, except the two decided otherwise', () => {
    const differing = Object.keys(recommended).filter((flag) => JSON.stringify(recommended[flag]) !== JSON.stringify(FEATURE_FLAGS[flag]));
    expect(differing.sort()).toEqual(['@aws-cdk/aws-ec2:restrictDefaultSecurityGroup', '@aws-cdk/core:enableAdditionalMetadataCollection']);
  });
});
