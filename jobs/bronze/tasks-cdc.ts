import { cdcBronzeJob } from './cdc-bronze-job.ts';

/** bronze.tasks_cdc: Tasks change records from landing/tasks/. */
export const { job: tasksCdcJob, table: tasksCdcTable } = cdcBronzeJob({ source: 'tasks', sourceTable: 'Tasks', keyAttributes: ['userId', 'taskId'] });
