/** Every Azure Function of Slotwise, once. Read by `functions/index.ts` (Azure) and by the dev host. */
import type { AppDeps } from '../shared/app/app.js';
import type { FunctionDefinition } from './definition.js';
import { health } from './health.js';
import { instrumentFunction } from './instrument.js';
import { intake } from './intake.js';
import { intakeDeferred } from './intake-deferred.js';
import { jobsCallbacks } from './jobs-callbacks.js';
import { jobsCancel } from './jobs-cancel.js';
import { jobsCreate } from './jobs-create.js';
import { jobsGet } from './jobs-get.js';
import { jobsList } from './jobs-list.js';
import { jobsOutputsGet } from './jobs-outputs-get.js';
import { jobsOutputsList } from './jobs-outputs-list.js';
import { jobsRetry } from './jobs-retry.js';
import { jobsTasksFiles } from './jobs-tasks-files.js';
import { jobsTasksGet } from './jobs-tasks-get.js';
import { jobsTasksList } from './jobs-tasks-list.js';
import { notifier } from './notifier.js';
import { openapi } from './openapi.js';
import { planner } from './planner.js';
import { poolController } from './pool-controller.js';
import { poolControllerTimer } from './pool-controller-timer.js';
import { reconcileNow } from './reconcile-now.js';
import { reconcileTimer } from './reconcile-timer.js';
import { retrier } from './retrier.js';
import { submitter } from './submitter.js';
import { sweepTimer } from './sweep-timer.js';
import { tesReconcileTimer } from './tes-reconcile-timer.js';
import { tesServiceInfo } from './tes-service-info.js';
import { tesServiceInfoUnversioned } from './tes-service-info-unversioned.js';
import { tesSubmitter } from './tes-submitter.js';
import { tesTasksCancel } from './tes-tasks-cancel.js';
import { tesTasksCreate } from './tes-tasks-create.js';
import { tesTasksGet } from './tes-tasks-get.js';
import { tesTasksList } from './tes-tasks-list.js';
import { ui } from './ui.js';
import { uiAsset } from './ui-asset.js';

/** Each entry traced (functions/instrument.ts): one span per invocation, logs correlated. */
export const functionTable: readonly FunctionDefinition<AppDeps>[] = [
  health,
  openapi,
  jobsCreate,
  jobsList,
  jobsGet,
  jobsCancel,
  jobsRetry,
  jobsCallbacks,
  // The list before the download: its route has no path, which the download's optional {*path} also matches.
  jobsOutputsList,
  jobsOutputsGet,
  jobsTasksList,
  jobsTasksGet,
  jobsTasksFiles,
  intake,
  intakeDeferred,
  planner,
  submitter,
  retrier,
  notifier,
  reconcileNow,
  reconcileTimer,
  sweepTimer,
  poolController,
  poolControllerTimer,
  tesServiceInfo,
  tesServiceInfoUnversioned,
  tesTasksCreate,
  tesTasksList,
  tesTasksGet,
  tesTasksCancel,
  tesSubmitter,
  tesReconcileTimer,
  ui,
  uiAsset,
].map((fn) => instrumentFunction(fn));
