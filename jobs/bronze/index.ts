export { cdcBronzeJob } from './cdc-bronze-job.ts';
export { tasksCdcJob, tasksCdcTable } from './tasks-cdc.ts';
export { usersCdcJob, usersCdcTable } from './users-cdc.ts';
