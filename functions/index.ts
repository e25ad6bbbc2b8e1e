/** Entry point loaded by the Azure Functions host (package.json `main`). */
// The package is CommonJS: Node's ESM loader cannot see its named exports.
import azureFunctions from '@azure/functions';

const { app } = azureFunctions;

import { createAppDeps } from '../shared/app.js';
import { lazy, registerFunctions } from './register.js';
import { functionTable } from './table.js';

app.setup({ enableHttpStream: false });
registerFunctions(
  app,
  functionTable,
  lazy(() => createAppDeps(process.env)),
);
