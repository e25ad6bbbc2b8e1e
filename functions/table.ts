/** Every Azure Function of Slotwise, once. Read by `functions/index.ts` (Azure) and by the dev host. */
import type { AppDeps } from '../shared/app.js';
import type { FunctionDefinition } from './definition.js';
import { health } from './health.js';
import { intake } from './intake.js';
import { jobsCreate } from './jobs-create.js';
import { jobsGet } from './jobs-get.js';
import { jobsList } from './jobs-list.js';

export const functionTable: readonly FunctionDefinition<AppDeps>[] = [
  health,
  jobsCreate,
  jobsGet,
  jobsList,
  intake,
];
