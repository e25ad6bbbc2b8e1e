/**
 * Registers a function table with the `@azure/functions` app, the ordinary v4 way. Each handler gets its
 * dependencies from `getDeps`; the Azure entry point registers the start-up table (functions/startup.ts),
 * whose handlers get theirs from the starter, shared by every function of the instance.
 */
import type { app as azureApp } from '@azure/functions';
import type { FunctionDefinition } from './definition.js';

export function registerFunctions<D>(
  app: typeof azureApp,
  table: readonly FunctionDefinition<D>[],
  getDeps: () => Promise<D>,
): void {
  for (const fn of table) {
    switch (fn.kind) {
      case 'http':
        app.http(fn.name, {
          methods: fn.methods ? [...fn.methods] : ['GET', 'POST'],
          route: fn.route ?? fn.name,
          authLevel: fn.authLevel ?? 'anonymous',
          handler: async (request, context) => fn.handler(request, context, await getDeps()),
        });
        break;
      case 'storageQueue':
        app.storageQueue(fn.name, {
          queueName: fn.queueName,
          connection: fn.connection ?? 'AzureWebJobsStorage',
          handler: async (message, context) => fn.handler(message, context, await getDeps()),
        });
        break;
      case 'timer':
        app.timer(fn.name, {
          schedule: fn.schedule,
          runOnStartup: fn.runOnStartup ?? false,
          useMonitor: fn.useMonitor ?? true,
          handler: async (timer, context) => fn.handler(timer, context, await getDeps()),
        });
        break;
    }
  }
}
