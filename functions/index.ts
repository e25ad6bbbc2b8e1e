/** Entry point loaded by the Azure Functions worker (package.json `main`). See startup.ts for why it awaits. */
// The package is CommonJS: Node's ESM loader cannot see its named exports.
import azureFunctions from '@azure/functions';

const { app } = azureFunctions;

import { startTelemetry } from '../shared/adapters/telemetry/start.js';
import { createAppDeps } from '../shared/app/app.js';
import type { FunctionDefinition } from './definition.js';
import { registerFunctions } from './register.js';
import { startFunctions } from './startup.js';
import { functionTable } from './table.js';

app.setup({ enableHttpStream: false });
// Before the dependencies: the Batch client and the job store take their meters when built. A
// telemetry problem is reported and never stops the app.
await startTelemetry(process.env).catch((e: unknown) =>
  console.error(`Telemetry did not start: ${e instanceof Error ? e.message : String(e)}`),
);
const started = await startFunctions(functionTable, () => createAppDeps(process.env));
if (started.ok) {
  registerFunctions(app, started.table, async () => started.deps);
} else {
  // Reaches Application Insights as an error trace; the message names settings or resources only.
  console.error(`Slotwise did not start (${started.problem.code}): ${started.problem.message}`);
  registerFunctions(app, started.table as readonly FunctionDefinition<null>[], async () => null);
}
