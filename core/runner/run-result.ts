import type { QualityEvaluation } from '../quality/index.ts';
import type { CatalogPublishOutcome } from './publish-catalog.ts';

/** What a successful run of a job did: what it read, wrote, quarantined and committed. */
export interface JobRunResult {
  readonly job: string;
  readonly runId: string;
  readonly state: 'SUCCEEDED';
  readonly startedAt: string;
  readonly completedAt: string;
  readonly elapsedMs: number;
  readonly recordsRead: number;
  readonly bytesRead: number;
  readonly recordsWritten: Readonly<Record<string, number>>;
  readonly recordsQuarantined: number;
  /** The records this run quarantined, by reason code (they add up to recordsQuarantined). */
  readonly recordsQuarantinedByReason?: Readonly<Record<string, number>>;
  readonly recordsDuplicated: number;
  /**
   * Landing records the run read that its job had taken before (a rewound bookmark, a pause run, an object
   * landed again): skipped, so each is in the job's output or quarantine once. Absent when none.
   */
  readonly recordsAlreadyHeld?: number;
  /** The root sequence the run committed (or the one it found, when it had nothing new to commit). */
  readonly commitSeq: number;
  /** A bookmarked run that found nothing new: it committed nothing. */
  readonly nothingNew: boolean;
  /** The bookmark version this run committed, when it committed one. */
  readonly bookmarkVersion?: number;
  /** The quality rules evaluated on the run's outputs (committed to quality.results). */
  readonly quality?: readonly QualityEvaluation[];
  /**
   * How showing the commit in the catalog went, when this run published it itself (`runJobs` publishes once
   * for all its jobs instead: see RunJobsOptions.onCatalogPublish). A failed publish does not fail the run.
   */
  readonly catalog?: CatalogPublishOutcome;
  /** What went wrong after the commit without undoing it (metrics that could not be emitted, say). */
  readonly warnings?: readonly string[];
  /** Wall time by phase (see PhaseClock): where the run spent its time. */
  readonly phasesMs?: Readonly<Record<string, number>>;
}
