import { MedallionError } from '../../errors.ts';
import type { QualityGate } from '../../quality/index.ts';
import type { ReadCounts } from './open-inputs.ts';
import type { RunContext } from './run-context.ts';
import type { RunWrites } from './decide-writes.ts';

/**
 * The job's reconciliation (`balance`): rows read from its input equal rows written to its output, plus
 * rows quarantined, plus duplicates, plus landing records the job already held. A run that breaks it fails and commits nothing.
 */
export function checkBalance(
  run: RunContext,
  counts: ReadCounts,
  written: RunWrites,
  recordsDuplicated: number,
  gate: QualityGate | undefined,
): void {
  const { job } = run;
  const balance = job.balance;
  if (!balance) return;
  const read = counts.rowsOf.get(balance.input) ?? 0;
  const output = written.recordsWritten[balance.output] ?? 0;
  // Rows quality rules set aside from other outputs than the balanced one were never part of its input.
  const otherSetAside = gate ? job.outputs.filter((spec) => spec.name !== balance.output).reduce((sum, spec) => sum + gate.rowsSetAside(spec.name), 0) : 0;
  const quarantined = written.recordsQuarantined - otherSetAside;
  const held = counts.alreadyHeld;
  if (read !== output + quarantined + recordsDuplicated + held) {
    throw new MedallionError(
      'RECONCILIATION_FAILED',
      `job ${job.name} read ${read} rows from ${balance.input} but accounted for ${output + quarantined + recordsDuplicated + held} ` +
        `(${output} written to ${balance.output}, ${quarantined} quarantined, ${recordsDuplicated} duplicates, ${held} already held); nothing was committed`,
      { hint: 'a row was lost or doubled by the job SQL: every input row must be written, quarantined or counted as a duplicate' },
    );
  }
}
