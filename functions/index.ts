/**
 * Entry point loaded by the Azure Functions worker (package.json `main`). It awaits nothing: the whole
 * function table is registered as soon as the module loads, and the dependencies start in the background
 * (startup.ts says why, and what each function does until they are there).
 */
// The package is CommonJS: Node's ESM loader cannot see its named exports.
import azureFunctions from '@azure/functions';

const { app } = azureFunctions;

import { startTelemetry } from '../shared/adapters/telemetry/start.js';
import { createAppDeps, createStartupReleaser } from '../shared/app/app.js';
import { HTTP_STREAMS } from './http-streams.js';
import { registerFunctions } from './register.js';
import { Starter, startupTable } from './startup.js';
import { functionTable } from './table.js';

app.setup({ enableHttpStream: HTTP_STREAMS });
const env = process.env;
// Telemetry first, but not before registration: the Batch client and the job store take their meters
// when built. A telemetry problem is reported and never stops the app.
const telemetry = startTelemetry(env).catch((e: unknown) =>
  console.error(`Telemetry did not start: ${e instanceof Error ? e.message : String(e)}`),
);
const starter = new Starter(
  async (onStep) => {
    onStep('starting telemetry');
    await telemetry;
    return createAppDeps(env, { onStep });
  },
  { dispose: (deps) => deps.close() },
);
// No storage settings at all: messages cannot be held back, so a failed start fails them as usual.
let release: ReturnType<typeof createStartupReleaser>;
try {
  release = createStartupReleaser(env);
} catch (e) {
  console.error(`Queue messages cannot be held back during a failed start: ${(e as Error).name}`);
}
registerFunctions(
  app,
  startupTable(functionTable, starter, {
    ...(release ? { release: (m, d) => release!.release(m, d) } : {}),
    env,
  }),
  async () => null,
);
starter.start();
