/**
 * `npm run emulator`: the Batch emulator on its own.
 * Options: `--port` (or BATCH_EMULATOR_PORT, default 7070), BATCH_ACCOUNT_NAME, BATCH_ACCOUNT_KEY
 * (base64), BATCH_EMULATOR_CLOCK_FACTOR (simulated seconds per real second, default 60).
 */
import { parseArgs } from 'node:util';
import { startBatchEmulator } from './index.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, 'clock-factor': { type: 'string' } } });
const accountName = process.env.BATCH_ACCOUNT_NAME ?? 'devbatch';
const accountKey =
  process.env.BATCH_ACCOUNT_KEY ?? Buffer.from('devbatch-local-shared-key-not-a-secret').toString('base64');
const emulator = await startBatchEmulator({
  port: Number(values.port ?? process.env.BATCH_EMULATOR_PORT ?? 7070),
  accountName,
  accountKey,
  clockFactor: Number(values['clock-factor'] ?? process.env.BATCH_EMULATOR_CLOCK_FACTOR ?? 60),
});
console.log(`Batch emulator ready at ${emulator.url} (account ${accountName})`);
const stop = () => {
  void emulator.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
