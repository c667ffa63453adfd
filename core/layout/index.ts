export {
  LAKE_FOLDERS, QUALITY_JOB, jobQualityResultsPrefix, jobQuarantinePrefix, jobRejectedRowsPrefix, jobRunFolders, landingPrefix, qualityStagingPrefix, quarantineStagingPrefix,
  REPORTS_PREFIX, REPORT_SUMMARY_KEY, reportKey,
  rejectedRowsStagingPrefix,
  symlinkCurrentFolder, symlinkFolder, symlinkPartitionFolder, symlinkPartitionPath, symlinkRoot, tablePrefix, tableStagingPrefix, type LakeFolder,
} from './lake-keys.ts';
export {
  accessAllows, jobLakeAccess, jobRuleSets, landingPrefixOf, qualityStepLakeAccess, reconcileLakeAccess, referencedTables, reportLakeAccess, stateWriteAllows, vacuumLakeAccess,
  type JobFootprint, type LakeAccess,
  type RuleSetTables,
} from './lake-access.ts';
