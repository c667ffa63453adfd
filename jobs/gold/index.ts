export { activeUsersJob, activeUsersTable } from './active-users.ts';
export { dailyTaskKpisJob, dailyTaskKpisTable } from './daily-task-kpis.ts';
export { userKpisJob, userKpisTable } from './user-kpis.ts';
