/**
 * Putting the results store's SAS into bodies at send time: which fields change, how long a SAS
 * lasts, when one is reused; and the rules that keep a SAS out of text and paths out of other jobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Services, startServices } from '../../dev/services/services.js';
import { contentDisposition } from '../../functions/jobs-outputs-get.js';
import { createResultsStore, MAX_SAS_LIFETIME_MS } from '../../shared/adapters/blob/results-store.js';
import { containsSas, redactSas } from '../../shared/core/redact-sas.js';
import { RESULTS_STORE_URL, type TaskBody } from '../../shared/model/batch-bodies.js';
import {
  createResultsSas,
  resolveResultsStore,
  resultsSasLifetimeMs,
  usesResultsStore,
  withResultsUrls,
} from '../../shared/pipeline/results-sas.js';
import { checkOutputPath } from '../../shared/usecases/job-outputs.js';

const hour = 3_600_000;
const urls = {
  write: 'https://acct.blob.core.windows.net/c?sp=cw&sig=W',
  read: 'https://acct.blob.core.windows.net/c?sp=rl&sig=R',
};

const task = (over: Partial<TaskBody> = {}): TaskBody => ({
  id: 't-1',
  commandLine: 'x',
  requiredSlots: 1,
  outputFiles: [
    {
      filePattern: 'out.txt',
      destination: { container: { containerUrl: RESULTS_STORE_URL, path: 'j/t-1/out.txt' } },
      uploadOptions: { uploadCondition: 'taskcompletion' },
    },
    {
      filePattern: '*.log',
      destination: { container: { containerUrl: 'https://mine.blob.core.windows.net/logs?sig=MINE' } },
      uploadOptions: { uploadCondition: 'taskfailure' },
    },
  ],
  resourceFiles: [
    { storageContainerUrl: RESULTS_STORE_URL, blobPrefix: 'j/prep/' },
    { httpUrl: 'https://example.com/a.json', filePath: 'a.json' },
  ],
  ...over,
});

describe('placeholders replaced at send time', () => {
  it('puts the write URL in results outputs and the read URL in results inputs, nothing else', () => {
    const before = task();
    const snapshot = JSON.stringify(before);
    const after = withResultsUrls(before, urls);
    expect(after.outputFiles![0]!.destination.container).toEqual({
      containerUrl: urls.write,
      path: 'j/t-1/out.txt',
    });
    expect(after.outputFiles![1]).toBe(before.outputFiles![1]); // the caller's own container: untouched
    expect(after.resourceFiles![0]).toEqual({ storageContainerUrl: urls.read, blobPrefix: 'j/prep/' });
    expect(after.resourceFiles![1]).toBe(before.resourceFiles![1]);
    expect(JSON.stringify(before)).toBe(snapshot); // the planned body is not changed
    expect(usesResultsStore(after)).toBe(false);
    // A body without the placeholder is the very same object (nothing copied for ordinary tasks).
    const plain = task({ outputFiles: [], resourceFiles: [] });
    expect(withResultsUrls([plain], urls)[0]).toBe(plain);
    // Anywhere in a body: a job's preparation task names the store the same way.
    const job = {
      id: 'b',
      jobPreparationTask: { resourceFiles: [{ storageContainerUrl: RESULTS_STORE_URL }] },
    };
    expect(withResultsUrls(job, urls).jobPreparationTask.resourceFiles[0]!.storageContainerUrl).toBe(
      urls.read,
    );
  });

  it('lasts the setting, or the job’s wall clock plus an hour, never more than a delegation key allows', () => {
    expect(resultsSasLifetimeMs(undefined, 48)).toBe(48 * hour);
    expect(resultsSasLifetimeMs('PT2H', 48)).toBe(48 * hour);
    expect(resultsSasLifetimeMs('P3D', 48)).toBe(73 * hour);
    expect(resultsSasLifetimeMs('P30D', 48)).toBe(MAX_SAS_LIFETIME_MS);
    expect(MAX_SAS_LIFETIME_MS).toBeLessThan(7 * 24 * hour);
  });

  it('fails a job that uses the store when there is none, and leaves others alone', async () => {
    const plain = [task({ outputFiles: [], resourceFiles: [] })];
    expect(await resolveResultsStore(plain, { tenant: 't' }, {}, { settings: {} })).toBe(plain);
    await expect(resolveResultsStore([task()], { tenant: 't' }, {}, { settings: {} })).rejects.toMatchObject({
      code: 'ResultsStoreUnavailable',
      retryable: false,
    });
  });
});

describe('one SAS pair per tenant while it has the life a round needs (Azurite)', () => {
  let services: Services;
  beforeAll(async () => {
    services = await startServices();
  });
  afterAll(() => services?.close());

  it('reuses it while enough life is left, mints again when not, and keeps tenants apart', async () => {
    let now = Date.now();
    const store = createResultsStore(
      { kind: 'connectionString', connectionString: services.storageConnectionString },
      { now: () => now },
    );
    const sas = createResultsSas(store, { now: () => now });
    const first = await sas.urlsFor('tenant-a', 48 * hour);
    expect(first.expiresAt.getTime() - now).toBe(60 * hour); // a quarter more than asked
    expect(new URL(first.write).searchParams.get('sp')).toBe('cw');
    expect(new URL(first.read).searchParams.get('sp')).toBe('rl');
    const [again, meanwhile] = await Promise.all([
      sas.urlsFor('tenant-a', 48 * hour),
      sas.urlsFor('tenant-a', 48 * hour),
    ]);
    expect(again).toBe(first);
    expect(meanwhile).toBe(first);
    now += 11 * hour; // 49 hours left: still enough
    expect(await sas.urlsFor('tenant-a', 48 * hour)).toBe(first);
    now += 2 * hour; // 47 hours left: not enough for a new task
    const second = await sas.urlsFor('tenant-a', 48 * hour);
    expect(second).not.toBe(first);
    expect(second.expiresAt.getTime() - now).toBe(60 * hour);
    const other = await sas.urlsFor('tenant-b', 48 * hour);
    expect(new URL(other.write).pathname).not.toBe(new URL(second.write).pathname);
    // A job that needs longer gets its own, longer SAS.
    const longer = await sas.urlsFor('tenant-a', 100 * hour);
    expect(longer.expiresAt.getTime() - now).toBe(125 * hour);
  });
});

describe('text and paths', () => {
  it('redacts SAS signatures from text that may quote a URL', () => {
    const message =
      'Upload to https://a.blob.core.windows.net/c?sv=2025-07-05&sp=cw&sig=abc%2Bdef%3D&skoid=x failed';
    expect(containsSas(message)).toBe(true);
    const clean = redactSas(message);
    expect(clean).toBe(
      'Upload to https://a.blob.core.windows.net/c?sv=2025-07-05&sp=cw&sig=REDACTED&skoid=REDACTED failed',
    );
    expect(containsSas(clean)).toBe(false);
    expect(redactSas('sig=abc')).toBe('sig=REDACTED');
    expect(redactSas('"containerUrl":"https://x/c?sig=zz"')).toBe(
      '"containerUrl":"https://x/c?sig=REDACTED"',
    );
    expect(redactSas('no secret here; design=good')).toBe('no secret here; design=good');
  });

  it('keeps paths and prefixes inside the job folder', () => {
    for (const ok of ['t-1/out.txt', 't-1/$TaskLog/stdout.txt', 'a b/ü.bin', 'x..y/z'])
      expect(checkOutputPath(ok, 'path', 'job-1'), ok).toBeUndefined();
    for (const ok of ['', 't-1/', 't-1/res'])
      expect(checkOutputPath(ok, 'prefix', 'job-1'), ok).toBeUndefined();
    const bad: [string, 'path' | 'prefix'][] = [
      ['', 'path'],
      ['../other/x', 'path'],
      ['t-1/../../x', 'path'],
      ['./x', 'path'],
      ['/etc/passwd', 'path'],
      ['a\\b', 'path'],
      ['a//b', 'path'],
      ['t-1/', 'path'],
      ['a\u0000b', 'path'],
      ['x'.repeat(1024 - 'job-1/'.length + 1), 'path'],
      ['../', 'prefix'],
      ['/t-1/', 'prefix'],
      ['a//', 'prefix'],
    ];
    for (const [value, field] of bad) {
      const error = checkOutputPath(value, field, 'job-1');
      expect(error?.field, JSON.stringify(value)).toBe(field);
    }
  });

  it('names the download for the browser, exactly when it must', () => {
    expect(contentDisposition('digits.txt')).toBe('attachment; filename="digits.txt"');
    expect(contentDisposition('résumé "final".pdf')).toBe(
      `attachment; filename="r_sum_ _final_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf`,
    );
  });
});
