export {
  defineJob, landingSource, tableSource,
  type Job, type JobPlan, type JobSpec, type PlanStep, type LandingSourceSpec, type SourceSpec, type TableSourceSpec, type TransformContext,
} from './define-job.ts';
export {
  BOOKMARK_OPTIONS, FRAMEWORK_ARGUMENT_NAMES, ignoredArgumentNames, jobArgumentDeclarationProblems, resolveJobArguments, type BookmarkOption, type ResolvedJobArguments,
} from './job-arguments.ts';
export { newRunId } from './run-id.ts';
export { jobLockName } from './job-lock.ts';
export { isJob, jobsExportedBy, tablesWrittenBy } from './job-registry.ts';
