import { QUALITY_RESULTS_TABLE, QUARANTINE_TABLE, type OutputStage, type TableSpec } from '../../table/index.ts';
import { qualityStagingPrefix, quarantineStagingPrefix, tableStagingPrefix } from '../../layout/index.ts';
import type { RunContext } from './run-context.ts';

/**
 * Where a run writes before it commits: one staging area per output, one for its quarantine rows and,
 * once rules were evaluated, one for their results. Areas are disposed when the run ends; what they
 * stored is discarded unless it was committed.
 */
export class RunStaging {
  /** The outputs' stages, in the job's order. */
  readonly outputs: OutputStage[] = [];
  private quarantineStage: OutputStage | undefined;
  private quality: OutputStage | undefined;
  private qualityCommitted = false;

  static async open(run: RunContext, specs: ReadonlyMap<string, TableSpec>): Promise<RunStaging> {
    const { lake, job, runId } = run;
    const staging = new RunStaging();
    // Disposed when the run ends, also when it fails half-way through opening.
    run.atEnd(() => staging.dispose(run.committed));
    for (const spec of job.outputs) {
      staging.outputs.push({ spec: specs.get(spec.name) as TableSpec, area: await lake.storage.createStagingArea(tableStagingPrefix(spec.name, runId)), copies: [] });
    }
    staging.quarantineStage = { spec: QUARANTINE_TABLE, area: await lake.storage.createStagingArea(quarantineStagingPrefix(job.name, runId)), copies: [] };
    return staging;
  }

  /** The stage of the rows the job and its quality rules set aside. */
  get quarantine(): OutputStage {
    if (!this.quarantineStage) throw new Error('the run has no quarantine stage yet');
    return this.quarantineStage;
  }

  /** The stage of the quality results, once `openQuality` created it. */
  get qualityResults(): OutputStage | undefined {
    return this.quality;
  }

  async openQuality(run: RunContext): Promise<OutputStage> {
    this.quality = { spec: QUALITY_RESULTS_TABLE, area: await run.lake.storage.createStagingArea(qualityStagingPrefix(run.job.name, run.runId)), copies: [] };
    return this.quality;
  }

  /** The outputs' specs changed (schema evolution added columns): their stages write the new ones. */
  useSpecs(specs: ReadonlyMap<string, TableSpec>): void {
    for (const stage of this.outputs) stage.spec = specs.get(stage.spec.name) ?? stage.spec;
  }

  /** The quality results were committed alone (a failed gate): they stay, the rest goes. */
  markQualityCommitted(): void {
    this.qualityCommitted = true;
  }

  /** Removes the areas; what they stored stays only when it was committed. */
  private async dispose(committed: boolean): Promise<void> {
    const stages = [...this.outputs, ...(this.quarantineStage ? [this.quarantineStage] : [])];
    await Promise.allSettled(stages.map((stage) => stage.area.dispose({ discardStored: !committed })));
    if (this.quality) await this.quality.area.dispose({ discardStored: !(committed || this.qualityCommitted) }).catch(() => undefined);
  }
}
