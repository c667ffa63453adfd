import { cdcBronzeJob } from './cdc-bronze-job.ts';

/** bronze.users_cdc: Users change records from landing/users/. */
export const { job: usersCdcJob, table: usersCdcTable } = cdcBronzeJob({ source: 'users', sourceTable: 'Users', keyAttributes: ['userId'] });
