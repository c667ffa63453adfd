export { dailyTaskKpisJob, dailyTaskKpisTable } from './daily-task-kpis.ts';
