import type { Job, TableSpec } from '../core/index.ts';
import { QUALITY_RESULTS_TABLE, QUARANTINE_TABLE } from '../core/index.ts';
import { tasksCdcJob, tasksCdcTable, usersCdcJob, usersCdcTable } from './bronze/index.ts';
import { activeUsersJob, activeUsersTable, dailyTaskKpisJob, dailyTaskKpisTable, userKpisJob, userKpisTable } from './gold/index.ts';
import { silverTasksJob, silverUsersJob, taskEventsTable, tasksHistoryTable, tasksTable, userEventsTable, usersHistoryTable, usersTable } from './silver/index.ts';

export * from './bronze/index.ts';
export * from './gold/index.ts';
export * from './silver/index.ts';

/** Every job of the reference pipeline. `medallion run --all` orders them by what they read. */
export const PIPELINE_JOBS: readonly Job[] = [
  tasksCdcJob, usersCdcJob, silverTasksJob, silverUsersJob, dailyTaskKpisJob, activeUsersJob, userKpisJob,
];

/** Every table the reference pipeline writes. */
export const PIPELINE_TABLES: readonly TableSpec[] = [
  tasksCdcTable, usersCdcTable, taskEventsTable, tasksTable, tasksHistoryTable, userEventsTable, usersTable, usersHistoryTable,
  dailyTaskKpisTable, activeUsersTable, userKpisTable, QUARANTINE_TABLE, QUALITY_RESULTS_TABLE,
];
