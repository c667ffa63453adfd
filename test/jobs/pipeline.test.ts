import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { expectFilesHoldRecordedSchemas, expectPipelineMatchesOracle, queryLake } from '../support/pipeline-check.ts';

const lakes: string[] = [];
afterEach(async () => {
  await Promise.all(lakes.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function simulatedLake(seed: number, faultRate: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'medallion-pipeline-'));
  lakes.push(dir);
  await generateLanding(openLocalLake(dir).storage, { seed, days: 4, users: 40, tasksPerDay: 60, faultRate, start: '2025-11-01' });
  return dir;
}

describe('the reference pipeline on simulated Todo API traffic', () => {
  // Every bronze, silver, quarantine and gold row is compared with the independent oracle.
  for (const seed of [3, 11]) {
    it(`matches the independent computation on a lake with every fault kind (seed ${seed})`, async () => {
      const dir = await simulatedLake(seed, 0.03);
      const { expected, lake } = await expectPipelineMatchesOracle(dir);
      // Every table's files were checked against their footers.
      expect(await expectFilesHoldRecordedSchemas(lake)).toBeGreaterThan(20);

      // The faults really were there, so the comparison above covered them.
      const reasons = new Set((await queryLake(lake, 'SELECT DISTINCT reason_code FROM quarantine.records')).map((row) => row.reason_code));
      for (const reason of ['invalid_json', 'not_an_object', 'missing_event_id', 'unknown_event_name', 'missing_event_time', 'missing_key']) {
        expect(reasons, reason).toContain(reason);
      }
      for (const reason of ['missing_new_image', 'missing_attribute', 'wrong_attribute_type']) expect(reasons, reason).toContain(reason);
      expect(expected.silver.tasks.duplicates).toBeGreaterThan(0);
      // TTL deletes were there too, and bronze and silver flag them (compared row by row above).
      expect(expected.bronze.tasks.table.some((row) => row.deleted_by_ttl)).toBe(true);
      expect(expected.silver.tasks.events.some((row) => row.deleted_by_ttl)).toBe(true);
      expect(expected.gold.daily_task_kpis.some((row) => row.overdue_tasks_eod > 0)).toBe(true);
      expect(expected.gold.daily_task_kpis.some((row) => row.tasks_deleted > 0)).toBe(true);
    });
  }

  it('matches on clean traffic, with nothing quarantined', async () => {
    const dir = await simulatedLake(5, 0);
    const { lake } = await expectPipelineMatchesOracle(dir);
    expect(await queryLake(lake, 'SELECT count(*) AS n FROM quarantine.records')).toEqual([{ n: 0 }]);
  });

  it('gives the same tables when run twice over the same landing data', async () => {
    const dir = await simulatedLake(8, 0.02);
    const first = await expectPipelineMatchesOracle(dir);
    const snapshot = async () =>
      Promise.all(
        ['silver.tasks', 'silver.task_events', 'gold.daily_task_kpis', 'quarantine.records'].map(async (table) =>
          queryLake(first.lake, `SELECT count(*) AS n FROM ${table}`),
        ),
      );
    const before = await snapshot();
    await expectPipelineMatchesOracle(dir);
    expect(await snapshot()).toEqual(before);
    // A full rerun replaces what it wrote: bronze does not double.
    const [bronze] = await queryLake(first.lake, 'SELECT count(*) AS n FROM bronze.tasks_cdc');
    expect(bronze?.n).toBe(first.expected.bronze.tasks.rows);
  });
});
