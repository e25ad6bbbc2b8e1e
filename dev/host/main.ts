/**
 * `npm run host`: the dev host with Slotwise's function table, like `func start`.
 * Reads host.json and local.settings.json (copied from local.settings.sample.json on first start);
 * `Values` become environment variables (variables already set in the environment win).
 * Dev-only knobs: `--port`, `SLOTWISE_DEVHOST_LEASE_SECONDS` (message lease while a handler runs).
 */
import { copyFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { functionTable } from '../../functions/table.js';
import { startTelemetry } from '../../shared/adapters/telemetry/start.js';
import { createAppDeps } from '../../shared/app/app.js';
import { HostConfigError, loadHostJson, loadLocalSettings } from './config.js';
import { startHost } from './host.js';
import { consoleLogger } from './logger.js';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    settings: { type: 'string', default: 'local.settings.json' },
    'host-json': { type: 'string', default: 'host.json' },
  },
});

async function main(): Promise<void> {
  const settingsPath = resolve(args.settings!);
  if (!existsSync(settingsPath) && existsSync('local.settings.sample.json')) {
    copyFileSync('local.settings.sample.json', settingsPath);
    console.log(`Created ${args.settings} from local.settings.sample.json`);
  }
  const host = loadHostJson(resolve(args['host-json']!));
  const settings = loadLocalSettings(settingsPath);
  for (const [k, v] of Object.entries(settings.values)) process.env[k] ??= v;
  const logger = consoleLogger();
  const telemetry = await startTelemetry(process.env);
  const deps = await createAppDeps(process.env);
  const port = Number(args.port ?? process.env.SLOTWISE_DEVHOST_PORT ?? settings.port);
  const lease = Number(process.env.SLOTWISE_DEVHOST_LEASE_SECONDS ?? 600);
  const running = await startHost({
    functions: functionTable,
    deps: async () => deps,
    host,
    env: process.env,
    port,
    logger,
    queueLeaseSeconds: lease,
    ...(settings.cors ? { cors: settings.cors } : {}),
  });
  console.log('\nFunctions:\n');
  for (const fn of functionTable) {
    if (fn.kind === 'http') {
      const prefix = host.routePrefix ? `/${host.routePrefix}` : '';
      console.log(
        `  ${fn.name}: [${(fn.methods ?? ['GET', 'POST']).join(',')}] ${running.url}${prefix}/${fn.route ?? fn.name}`,
      );
    } else if (fn.kind === 'storageQueue') {
      console.log(`  ${fn.name}: queueTrigger ${fn.queueName}`);
    } else {
      console.log(`  ${fn.name}: timerTrigger ${fn.schedule}`);
    }
  }
  console.log(`\nHost listening on ${running.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping (finishing in-flight invocations)`);
    running
      .close()
      .then(() => deps.close())
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  if (e instanceof HostConfigError) console.error(`Host start-up failed: ${e.message}`);
  else console.error(`Host start-up failed: ${(e as Error).name}: ${(e as Error).message}`);
  process.exit(1);
});
