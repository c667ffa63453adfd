import { defineTable } from '../table/index.ts';

/** Every record a job could not accept, with why and where it came from. Partitioned by the job that quarantined it. */
export const QUARANTINE_TABLE = defineTable({
  name: 'quarantine.records',
  description: 'Records a job could not accept: the reason, where they came from, and their raw text.',
  writeMode: 'append',
  partitionBy: ['job'],
  columns: [
    { name: 'layer', type: 'VARCHAR', description: 'Layer of the job that quarantined the record (bronze, silver, gold).' },
    { name: 'source_object', type: 'VARCHAR', description: 'Landing object the record came from.' },
    { name: 'record_index', type: 'BIGINT', description: '0-based position of the record in its landing object.' },
    { name: 'reason_code', type: 'VARCHAR', description: 'Stable code of the first check the record failed, e.g. invalid_json.' },
    { name: 'reason', type: 'VARCHAR', description: 'What was wrong, for a person.' },
    { name: 'raw', type: 'VARCHAR', description: 'The record as it arrived (or its event as bronze held it).' },
    { name: 'run_id', type: 'VARCHAR', description: 'Job run that quarantined it.' },
    { name: 'quarantined_at', type: 'TIMESTAMP', description: 'When that run started (UTC).' },
    { name: 'job', type: 'VARCHAR', description: 'Partition: the job that quarantined the record.' },
  ],
});
