export type { ConnectionState, JobOf, ResultOf, StepOf } from '@jobstream/client';
export { estimateTimeLeft, formatClock, formatDuration, formatTimeLeft } from './format.js';
export {
  JobProgressDialog,
  type JobProgressDialogProps,
  JobProgressModal,
  type JobProgressModalProps,
} from './job-progress-modal.js';
export { injectJobProgressCss, jobProgressCss } from './styles.js';
export {
  JobClientProvider,
  type JobProgress,
  type UseJobProgressOptions,
  type UseJobProgressResult,
  useJobProgress,
} from './use-job-progress.js';
export { elapsedMs, STEP_MARKS, stepText, topicText } from './view-model.js';
