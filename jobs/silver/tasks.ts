import { cdcSilverJob } from './cdc-silver-job.ts';

export const TASK_STATUSES = ['todo', 'in_progress', 'done'] as const;

/** silver.tasks (job), writing silver.task_events and silver.tasks. */
export const { job: silverTasksJob, eventsTable: taskEventsTable, currentTable: tasksTable, historyTable: tasksHistoryTable } = cdcSilverJob({
  singular: 'task',
  plural: 'tasks',
  bronzeTable: 'bronze.tasks_cdc',
  // A new Tasks attribute is dropped until the job declares it; the event itself is kept.
  schemaContract: 'discard_value',
  keys: [
    { attribute: 'userId', column: 'user_id', description: 'Owner of the task (partition key of the Tasks table).' },
    { attribute: 'taskId', column: 'task_id', description: 'Task id, unique per user (sort key of the Tasks table).' },
  ],
  rules: [
    { attribute: 'title', column: 'title', required: true, kind: { type: 'string' } },
    { attribute: 'status', column: 'status', required: true, kind: { type: 'enum', values: TASK_STATUSES, invalidCode: 'invalid_status' } },
    { attribute: 'priority', column: 'priority', required: false, kind: { type: 'integer', min: 1, max: 4, invalidCode: 'invalid_priority' } },
    { attribute: 'dueDate', column: 'due_date', required: false, kind: { type: 'date' } },
    { attribute: 'tags', column: 'tags', required: false, kind: { type: 'string_set' } },
    { attribute: 'createdAt', column: 'created_at', required: true, kind: { type: 'timestamp' } },
    { attribute: 'updatedAt', column: 'updated_at', required: true, kind: { type: 'timestamp' } },
    { attribute: 'completedAt', column: 'completed_at', required: false, kind: { type: 'timestamp' } },
  ],
  columns: [
    { name: 'title', type: 'VARCHAR', description: 'Task title.' },
    { name: 'status', type: 'VARCHAR', description: 'todo, in_progress or done.' },
    { name: 'priority', type: 'INTEGER', description: 'Priority 1 (highest) to 4; NULL when not set.' },
    { name: 'due_date', type: 'DATE', description: 'Due date; NULL when not set.' },
    { name: 'tags', type: 'VARCHAR[]', description: 'Tags, sorted; NULL when not set.' },
    { name: 'created_at', type: 'TIMESTAMP', description: 'When the task was created (UTC).' },
    { name: 'updated_at', type: 'TIMESTAMP', description: 'When the task last changed (UTC).' },
    { name: 'completed_at', type: 'TIMESTAMP', description: 'When the task was completed (UTC); NULL unless done.' },
  ],
  partitionByDateOf: { column: 'created_at', partition: 'created_date', description: 'Partition: the UTC date of created_at (when the task was created).' },
});
