export { cdcSilverJob, type KeyColumn, type SilverEntity } from './cdc-silver-job.ts';
export { typeImagesSql, type AttributeRule } from './image-typing.ts';
export { TASK_STATUSES, silverTasksJob, taskEventsTable, tasksHistoryTable, tasksTable } from './tasks.ts';
export { USER_PLANS, silverUsersJob, userEventsTable, usersHistoryTable, usersTable } from './users.ts';
