/**
 * `npm run emulator`: the Batch emulator on its own.
 * `--port` or BATCH_EMULATOR_PORT (default 7070), `--host` (default 127.0.0.1), BATCH_ACCOUNT_NAME
 * (default devbatch), BATCH_ACCOUNT_KEY (base64; default a fixed development key),
 * `--clock-factor` or BATCH_EMULATOR_CLOCK_FACTOR (simulated seconds per real second, default 60),
 * BATCH_POOL_ALLOCATION_MODE (`BatchService`: low-priority nodes are refused, as Batch does; default
 * `UserSubscription`: Spot nodes are simulated), BATCH_EMULATOR_TRANSFERS (`loopback`, the default:
 * files on loopback storage move for real; `off`: no storage is contacted), BATCH_EMULATOR_FILE_SHARES
 * (JSON `[{ "accountName", "shareName", "hostPath" }]`: Azure Files shares backed by directories of
 * this machine, file-shares.ts), BATCH_EMULATOR_LOCATION (the account's region as its management-plane
 * resource states it; default `local`).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { FileShareError, type FileShareMapping, fileShareSchema } from './file-shares.js';
import { type BatchEmulator, startBatchEmulator } from './index.js';

function numberSetting(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`${name} must be a non-negative number, got '${text}'`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string' }, 'clock-factor': { type: 'string' } },
});
const accountName = process.env.BATCH_ACCOUNT_NAME || 'devbatch';
const accountKey =
  process.env.BATCH_ACCOUNT_KEY || Buffer.from('devbatch-local-shared-key-not-a-secret').toString('base64');
const mode = process.env.BATCH_POOL_ALLOCATION_MODE || 'UserSubscription';
if (mode !== 'BatchService' && mode !== 'UserSubscription') {
  console.error(`BATCH_POOL_ALLOCATION_MODE must be BatchService or UserSubscription, got '${mode}'`);
  process.exit(2);
}
const transfers = process.env.BATCH_EMULATOR_TRANSFERS || 'loopback';
if (transfers !== 'loopback' && transfers !== 'off') {
  console.error(`BATCH_EMULATOR_TRANSFERS must be loopback or off, got '${transfers}'`);
  process.exit(2);
}
let fileShares: FileShareMapping[] = [];
const sharesText = process.env.BATCH_EMULATOR_FILE_SHARES;
if (sharesText) {
  let given: unknown;
  try {
    given = JSON.parse(sharesText);
  } catch {
    given = undefined;
  }
  const parsed = z.array(fileShareSchema).safeParse(given);
  if (!parsed.success) {
    const why =
      given === undefined
        ? 'it is not JSON'
        : parsed.error.issues.map((i) => `${i.path.join('.') || 'the value'}: ${i.message}`).join('; ');
    console.error(
      `BATCH_EMULATOR_FILE_SHARES must be a JSON array of { "accountName", "shareName", "hostPath" }: ${why}`,
    );
    process.exit(2);
  }
  fileShares = parsed.data;
}
let emulator: BatchEmulator;
try {
  emulator = await startBatchEmulator({
    poolAllocationMode: mode,
    transfers,
    port: numberSetting('port', values.port ?? process.env.BATCH_EMULATOR_PORT, 7070),
    host: values.host ?? '127.0.0.1',
    accountName,
    accountKey,
    location: process.env.BATCH_EMULATOR_LOCATION || 'local',
    clockFactor: numberSetting(
      'clock factor',
      values['clock-factor'] ?? process.env.BATCH_EMULATOR_CLOCK_FACTOR,
      60,
    ),
    fileShares,
  });
} catch (e) {
  // A host directory that is not there; anything else (a port in use) is thrown as it is.
  if (!(e instanceof FileShareError)) throw e;
  console.error(`BATCH_EMULATOR_FILE_SHARES: ${e.message}`);
  process.exit(2);
}
console.log(`Batch emulator ready at ${emulator.url} (account ${accountName}, ${emulator.location})`);
for (const share of fileShares)
  console.log(`  Azure Files ${share.accountName}/${share.shareName} is ${share.hostPath}`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void emulator.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
