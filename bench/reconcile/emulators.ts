/**
 * Batch accounts for the reconcile bench: one emulator process per account, each with its own name
 * and Shared Key, its clock stopped (the bench moves it), and its request counters read over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface BenchAccount {
  readonly name: string;
  readonly key: string;
  readonly url: string;
  /** Data-plane requests the emulator has served so far (faults excluded). */
  requests(): Promise<number>;
  /** Sets the account's quotas (`/_emulator/quotas`), e.g. `{ activeJobs }`. */
  setQuotas(quotas: Record<string, number>): Promise<void>;
  /** Moves the simulated clock on (events due by then happen). */
  advance(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGTERM');
});

export async function startBenchAccount(name: string): Promise<BenchAccount> {
  const key = Buffer.from(`bench-reconcile-key-${name}-0123456789`).toString('base64');
  const proc = spawn(
    process.execPath,
    [fileURLToPath(new URL('../../dev/batch-emulator/main.js', import.meta.url)), '--clock-factor', '0'],
    {
      env: { ...process.env, BATCH_EMULATOR_PORT: '0', BATCH_ACCOUNT_NAME: name, BATCH_ACCOUNT_KEY: key },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /ready at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`emulator ${name} exited ${code}: ${out.slice(-400)}`)));
  });
  const control = (path: string, init?: RequestInit) => fetch(`${url}/_emulator/${path}`, init);
  return {
    name,
    key,
    url,
    async requests() {
      const counters = (await (await control('counters')).json()) as { requests: Record<string, number> };
      return Object.entries(counters.requests)
        .filter(([op]) => !op.startsWith('fault:'))
        .reduce((sum, [, n]) => sum + n, 0);
    },
    async setQuotas(quotas) {
      const res = await control('quotas', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(quotas),
      });
      if (!res.ok) throw new Error(`emulator ${name}: quotas answered ${res.status}`);
    },
    async advance(seconds) {
      const res = await control('clock', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advanceSeconds: seconds }),
      });
      if (!res.ok) throw new Error(`emulator ${name}: clock answered ${res.status}`);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
