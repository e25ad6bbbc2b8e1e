/**
 * The results store against real Azurite (key mode: service SAS signed with the account key, as the
 * local stack runs). Azurite checks a SAS's signature, resource and permissions as Blob Storage does,
 * so what a task could do with the SAS it gets is tried for real here.
 */
import { randomUUID } from 'node:crypto';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Services, startServices } from '../../dev/services/services.js';
import {
  createResultsStore,
  RangeNotSatisfiableError,
  type ResultsStore,
  resolveRange,
} from '../../shared/adapters/blob/results-store.js';
import { resultsContainerName } from '../../shared/model/results-paths.js';

let services: Services;
let store: ResultsStore;
const hour = 3_600_000;
const soon = () => new Date(Date.now() + hour);
const tenant = () => `t-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  services = await startServices();
  store = createResultsStore({
    kind: 'connectionString',
    connectionString: services.storageConnectionString,
  });
});
afterAll(() => services?.close());

/** The status Blob Storage answers a call with (200 when it succeeds). */
async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (e) {
    return (e as { statusCode?: number }).statusCode ?? -1;
  }
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe('results store (Azurite, account key)', () => {
  it("creates the tenant's container on first need, once, under resultsContainerName", async () => {
    const t = tenant();
    const admin = new ContainerClient(`${services.blobEndpoint}/${resultsContainerName(t)}`);
    expect(admin.containerName).toBe(resultsContainerName(t));
    await store.ensureContainer(t);
    await store.ensureContainer(t); // idempotent
    const url = await store.writeSasUrl(t, soon());
    expect(new URL(url).pathname).toBe(`/devstoreaccount1/${resultsContainerName(t)}`);
    // The container exists: a read SAS lists it (empty).
    const reader = new ContainerClient(await store.readSasUrl(t, soon()));
    const names: string[] = [];
    for await (const b of reader.listBlobsFlat()) names.push(b.name);
    expect(names).toEqual([]);
  });

  it('a write SAS (sp=cw, sr=c) creates and writes blobs but cannot read or list them', async () => {
    const t = tenant();
    const url = new URL(await store.writeSasUrl(t, soon()));
    expect(url.searchParams.get('sp')).toBe('cw');
    expect(url.searchParams.get('sr')).toBe('c');
    expect(url.searchParams.get('sig')).toBeTruthy();
    // No start time: a node whose clock is behind can use it at once.
    expect(url.searchParams.has('st')).toBe(false);
    const writer = new ContainerClient(url.toString());
    const blob = writer.getBlockBlobClient('job-1/t-1/out.txt');
    expect(await statusOf(() => blob.upload('hello', 5))).toBe(200);
    expect(await statusOf(() => blob.download())).toBe(403);
    expect(await statusOf(() => blob.getProperties())).toBe(403);
    expect(await statusOf(() => writer.listBlobsFlat().byPage().next())).toBe(403);
    expect(await statusOf(() => blob.delete())).toBe(403);
    // What it wrote is there, as the store reads it.
    const read = await store.read(t, 'job-1/t-1/out.txt');
    expect(await text(read!.stream)).toBe('hello');
  });

  it('a read SAS (sp=rl) reads and lists but cannot write', async () => {
    const t = tenant();
    await new ContainerClient(await store.writeSasUrl(t, soon()))
      .getBlockBlobClient('a/b.txt')
      .upload('x', 1);
    const url = new URL(await store.readSasUrl(t, soon()));
    expect(url.searchParams.get('sp')).toBe('rl');
    const reader = new ContainerClient(url.toString());
    expect(await statusOf(() => reader.getBlobClient('a/b.txt').download())).toBe(200);
    expect(await statusOf(() => reader.listBlobsFlat().byPage().next())).toBe(200);
    expect(await statusOf(() => reader.getBlockBlobClient('a/c.txt').upload('y', 1))).toBe(403);
  });

  it("a tenant's SAS cannot reach another tenant's container", async () => {
    const [mine, theirs] = [tenant(), tenant()];
    await new ContainerClient(await store.writeSasUrl(theirs, soon()))
      .getBlockBlobClient('job/t/secret.txt')
      .upload('theirs', 6);
    for (const sas of [await store.writeSasUrl(mine, soon()), await store.readSasUrl(mine, soon())]) {
      // The same signature on the other tenant's container: the signature covers the container's name.
      const forged = new URL(sas);
      forged.pathname = `/devstoreaccount1/${resultsContainerName(theirs)}`;
      const other = new ContainerClient(forged.toString());
      expect(await statusOf(() => other.getBlobClient('job/t/secret.txt').download())).toBe(403);
      expect(await statusOf(() => other.listBlobsFlat().byPage().next())).toBe(403);
      expect(await statusOf(() => other.getBlockBlobClient('job/t/planted.txt').upload('x', 1))).toBe(403);
    }
    const page = await store.list(theirs, 'job/', { limit: 10 });
    expect(page.items.map((i) => i.path)).toEqual(['job/t/secret.txt']);
  });

  it('an expired SAS is refused; an expiry in the past is never signed', async () => {
    const t = tenant();
    await expect(store.writeSasUrl(t, new Date(Date.now() - 1000))).rejects.toMatchObject({
      code: 'InvalidSasExpiry',
    });
    const past = createResultsStore(
      { kind: 'connectionString', connectionString: services.storageConnectionString },
      { now: () => Date.now() - 2 * hour },
    );
    const expired = new ContainerClient(await past.writeSasUrl(t, new Date(Date.now() - hour)));
    expect(await statusOf(() => expired.getBlockBlobClient('late.txt').upload('x', 1))).toBe(403);
  });

  it('lists by prefix, page by page with the continuation, in name order', async () => {
    const t = tenant();
    const writer = new ContainerClient(await store.writeSasUrl(t, soon()));
    const names = ['j/a/1.txt', 'j/a/2.txt', 'j/b/$TaskLog/stdout.txt', 'j/c/x.bin', 'j2/a/1.txt'];
    for (const n of names) await writer.getBlockBlobClient(n).upload(n, n.length);
    const seen: string[] = [];
    let continuation: string | undefined;
    let pages = 0;
    do {
      const page = await store.list(t, 'j/', { limit: 2, ...(continuation ? { continuation } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) {
        seen.push(item.path);
        expect(item.size).toBe(item.path.length);
        expect(item.lastModified).toBeInstanceOf(Date);
      }
      continuation = page.continuation;
      pages++;
    } while (continuation);
    expect(seen).toEqual(names.slice(0, 4));
    expect(pages).toBeGreaterThanOrEqual(2);
    expect((await store.list(t, 'j/b/', { limit: 10 })).items.map((i) => i.path)).toEqual([
      'j/b/$TaskLog/stdout.txt',
    ]);
    // A tenant without a container yet has no results, not an error.
    expect(await store.list(tenant(), '', { limit: 10 })).toEqual({ items: [] });
  });

  it('reads whole blobs and ranges, with the sizes and content-range to answer with', async () => {
    const t = tenant();
    const writer = new ContainerClient(await store.writeSasUrl(t, soon()));
    await writer.getBlockBlobClient('j/t/digits.txt').upload('0123456789', 10);
    await writer.getBlockBlobClient('j/t/empty.txt').upload('', 0);
    const whole = await store.read(t, 'j/t/digits.txt');
    expect(whole).toMatchObject({ size: 10, contentLength: 10 });
    expect(whole!.contentRange).toBeUndefined();
    expect(whole!.etag).toMatch(/^"/);
    expect(await text(whole!.stream)).toBe('0123456789');
    const cases: [Parameters<ResultsStore['read']>[2], string, string][] = [
      [{ start: 2, end: 4 }, '234', 'bytes 2-4/10'],
      [{ start: 7 }, '789', 'bytes 7-9/10'],
      [{ start: 8, end: 100 }, '89', 'bytes 8-9/10'],
      [{ suffix: 3 }, '789', 'bytes 7-9/10'],
      [{ suffix: 50 }, '0123456789', 'bytes 0-9/10'],
    ];
    for (const [range, body, contentRange] of cases) {
      const part = await store.read(t, 'j/t/digits.txt', range);
      expect(part!.contentRange, JSON.stringify(range)).toBe(contentRange);
      expect(part!.contentLength).toBe(body.length);
      expect(await text(part!.stream)).toBe(body);
    }
    await expect(store.read(t, 'j/t/digits.txt', { start: 10 })).rejects.toBeInstanceOf(
      RangeNotSatisfiableError,
    );
    // An empty file comes back whole, whatever the range.
    const empty = await store.read(t, 'j/t/empty.txt', { start: 0, end: 9 });
    expect(empty).toMatchObject({ size: 0, contentLength: 0 });
    expect(await text(empty!.stream)).toBe('');
    expect(await store.read(t, 'j/t/absent.txt')).toBeUndefined();
    expect(await store.read(tenant(), 'j/t/digits.txt')).toBeUndefined();
  });

  it('resolves ranges as RFC 9110 says', () => {
    expect(resolveRange(undefined, 10)).toBeUndefined();
    expect(resolveRange({ start: 0 }, 10)).toEqual({ start: 0, end: 9 });
    expect(resolveRange({ start: 3, end: 3 }, 10)).toEqual({ start: 3, end: 3 });
    expect(resolveRange({ suffix: 1 }, 10)).toEqual({ start: 9, end: 9 });
    expect(() => resolveRange({ suffix: 0 }, 10)).toThrow(RangeNotSatisfiableError);
    expect(() => resolveRange({ start: 11 }, 10)).toThrow(RangeNotSatisfiableError);
    expect(resolveRange({ start: 5 }, 0)).toBeUndefined();
  });
});
