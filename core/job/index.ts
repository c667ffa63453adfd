export {
  defineJob, landingSource, tableSource,
  type Job, type JobPlan, type JobSpec, type LandingSourceSpec, type SourceSpec, type TableSourceSpec, type TransformContext,
} from './define-job.ts';
