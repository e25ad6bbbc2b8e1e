/** Entry point loaded by the Azure Functions host (package.json `main`). */
import { app } from '@azure/functions';
import { createAppDeps } from '../shared/app.js';
import { lazy, registerFunctions } from './register.js';
import { functionTable } from './table.js';

app.setup({ enableHttpStream: false });
registerFunctions(
  app,
  functionTable,
  lazy(() => createAppDeps(process.env)),
);
