/** Every Azure Function of Slotwise, once. Read by `functions/index.ts` (Azure) and by the dev host. */
import type { AppDeps } from '../shared/app.js';
import type { FunctionDefinition } from './definition.js';
import { health } from './health.js';

export const functionTable: readonly FunctionDefinition<AppDeps>[] = [health];
