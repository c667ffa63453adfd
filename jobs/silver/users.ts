import { cdcSilverJob } from './cdc-silver-job.ts';

export const USER_PLANS = ['free', 'pro', 'team'] as const;

/** silver.users (job), writing silver.user_events and silver.users. */
export const { job: silverUsersJob, eventsTable: userEventsTable, currentTable: usersTable, historyTable: usersHistoryTable } = cdcSilverJob({
  singular: 'user',
  plural: 'users',
  bronzeTable: 'bronze.users_cdc',
  keys: [{ attribute: 'userId', column: 'user_id', description: 'User id (partition key of the Users table).' }],
  // Users carry personal data: an attribute nobody declared (and reviewed) is quarantined, not dropped.
  schemaContract: 'freeze',
  rules: [
    { attribute: 'email', column: 'email', required: true, kind: { type: 'string' } },
    { attribute: 'name', column: 'name', required: true, kind: { type: 'string' } },
    { attribute: 'plan', column: 'plan', required: true, kind: { type: 'enum', values: USER_PLANS, invalidCode: 'invalid_plan' } },
    { attribute: 'createdAt', column: 'created_at', required: true, kind: { type: 'timestamp' } },
    { attribute: 'country', column: 'country', required: false, kind: { type: 'string' } },
  ],
  columns: [
    { name: 'email', type: 'VARCHAR', description: 'Email address.', personalData: 'direct' },
    { name: 'name', type: 'VARCHAR', description: 'Display name.', personalData: 'direct' },
    { name: 'plan', type: 'VARCHAR', description: 'free, pro or team.' },
    { name: 'created_at', type: 'TIMESTAMP', description: 'When the user signed up (UTC).' },
    { name: 'country', type: 'VARCHAR', description: 'Country code; NULL when not given.', personalData: 'indirect' },
  ],
});
