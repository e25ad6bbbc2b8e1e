/**
 * The results store in its Azure mode: Microsoft Entra, a user delegation key, SAS signed with it.
 * No Entra here, but Azurite serves Get User Delegation Key when started with OAuth (`--oauth basic`,
 * which needs HTTPS): it takes any well-formed bearer token (it checks audience, issuer and lifetime,
 * not the signature), derives the key from the token's `oid`/`tid`, and checks user delegation SAS
 * against it, permissions included. So the whole path runs for real: token → key → SAS → a blob
 * written, a read refused. What Azurite cannot show: that Entra grants the key to the app's identity
 * (the role is checked in storage-role.test.ts against the published role definitions).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { AnonymousCredential, ContainerClient, type UserDelegationKey } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResultsStore, type ResultsStore } from '../../shared/adapters/blob/results-store.js';
import { DELEGATION_SAS_VERSION, userDelegationSasQuery } from '../../shared/adapters/blob/sas.js';
import { resultsContainerName } from '../../shared/model/results-paths.js';
import { selfSignedCert } from './support/self-signed-cert.js';

const OID = '11111111-2222-3333-4444-555555555555';
const TID = '66666666-7777-8888-9999-000000000000';
const hour = 3_600_000;
const day = 24 * hour;

/** A token as Entra issues them for Storage, unsigned (Azurite's basic OAuth does not check signatures). */
const credential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    const now = Math.floor(Date.now() / 1000);
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = {
      aud: 'https://storage.azure.com',
      iss: `https://sts.windows.net/${TID}/`,
      oid: OID,
      tid: TID,
    };
    const token = `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, iat: now, nbf: now - 60, exp: now + 3600 })}.x`;
    return { token, expiresOnTimestamp: (now + 3600) * 1000 };
  },
};

let azurite: ChildProcess;
let dir: string;
let blobServiceUri: string;
let offsetMs = 0;
let store: ResultsStore;
/**
 * The test certificate is trusted through Node's global HTTPS agent (this test file runs in a process
 * of its own), which the Storage client uses when keep-alive is off; verification stays on.
 */
const noKeepAlive = { keepAliveOptions: { enable: false } };

beforeAll(async () => {
  const cert = selfSignedCert();
  https.globalAgent.options.ca = cert.certPem;
  dir = mkdtempSync(join(tmpdir(), 'slotwise-azurite-tls-'));
  writeFileSync(join(dir, 'cert.pem'), cert.certPem);
  writeFileSync(join(dir, 'key.pem'), cert.keyPem);
  const entry = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  azurite = spawn(
    process.execPath,
    [
      entry,
      '--inMemoryPersistence',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--oauth',
      'basic',
      '--cert',
      join(dir, 'cert.pem'),
      '--key',
      join(dir, 'key.pem'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m =
        /Azurite Blob service (?:is successfully listening at|successfully listens on) (https:\/\/\S+)/.exec(
          output,
        );
      if (m) resolve(m[1]!);
    };
    azurite.stdout?.on('data', onData);
    azurite.stderr?.on('data', onData);
    azurite.once('exit', (code) => reject(new Error(`Azurite exited with ${code}: ${output.slice(-500)}`)));
  });
  azurite.removeAllListeners('exit');
  blobServiceUri = `${endpoint}/devstoreaccount1`;
  store = createResultsStore(
    { kind: 'identity', blobServiceUri, credential, accountName: 'devstoreaccount1' },
    { now: () => Date.now() + offsetMs, clientOptions: noKeepAlive },
  );
});

afterAll(() => {
  https.globalAgent.options.ca = undefined;
  azurite?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A client on a SAS URL that trusts the test certificate. */
const onSas = (url: string) => new ContainerClient(url, new AnonymousCredential(), noKeepAlive);

async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (e) {
    return (e as { statusCode?: number }).statusCode ?? -1;
  }
}

describe('results store with Microsoft Entra (user delegation SAS, Azurite with OAuth)', () => {
  it('signs container SAS with a user delegation key that Blob Storage accepts, permissions enforced', async () => {
    const t = 'tenant-a';
    const expiresAt = new Date(Date.now() + 48 * hour);
    const write = new URL(await store.writeSasUrl(t, expiresAt));
    expect(write.pathname).toBe(`/devstoreaccount1/${resultsContainerName(t)}`);
    expect(Object.fromEntries(write.searchParams)).toMatchObject({
      sp: 'cw',
      sr: 'c',
      spr: 'https',
      skoid: OID,
      sktid: TID,
      sks: 'b',
      sv: DELEGATION_SAS_VERSION,
    });
    expect(Date.parse(write.searchParams.get('se')!)).toBe(Math.floor(expiresAt.getTime() / 1000) * 1000);
    const writer = onSas(write.toString());
    const blob = writer.getBlockBlobClient('job/t-1/out.txt');
    expect(await statusOf(() => blob.upload('from a task', 11))).toBe(200);
    expect(await statusOf(() => blob.download())).toBe(403);
    expect(await statusOf(() => writer.listBlobsFlat().byPage().next())).toBe(403);

    const reader = onSas(await store.readSasUrl(t, expiresAt));
    expect(await statusOf(() => reader.listBlobsFlat().byPage().next())).toBe(200);
    expect(await statusOf(() => reader.getBlobClient('job/t-1/out.txt').download())).toBe(200);
    expect(await statusOf(() => reader.getBlockBlobClient('job/t-1/other.txt').upload('x', 1))).toBe(403);
    // The app itself lists and reads with its token.
    expect((await store.list(t, 'job/', { limit: 10 })).items.map((i) => i.path)).toEqual([
      'job/t-1/out.txt',
    ]);
    const read = await store.read(t, 'job/t-1/out.txt', { start: 5 });
    expect(await new Response(read!.stream).text()).toBe('a task');
  });

  it("refuses this tenant's SAS on another tenant's container", async () => {
    await store.ensureContainer('tenant-b');
    const forged = new URL(await store.readSasUrl('tenant-a', new Date(Date.now() + hour)));
    forged.pathname = `/devstoreaccount1/${resultsContainerName('tenant-b')}`;
    expect(await statusOf(() => onSas(forged.toString()).listBlobsFlat().byPage().next())).toBe(403);
  });

  it('keeps one delegation key while it covers the SAS asked for, and fetches a new one before it no longer does', async () => {
    // A SAS names its key by the key's start and expiry (skt, ske): the same pair, the same key.
    const keyOf = (url: string) => {
      const q = new URL(url).searchParams;
      return { skt: q.get('skt')!, ske: q.get('ske')! };
    };
    offsetMs = 0;
    const first = keyOf(await store.writeSasUrl('tenant-c', new Date(Date.now() + hour)));
    expect(keyOf(await store.writeSasUrl('tenant-c', new Date(Date.now() + 2 * hour)))).toEqual(first);
    expect(keyOf(await store.readSasUrl('tenant-c', new Date(Date.now() + 5 * day)))).toEqual(first);
    // A key lives 7 days at most: asked for from (now - 5 min) to (now + 7 days - 5 min).
    expect(Date.parse(first.ske) - Date.parse(first.skt)).toBe(7 * day);
    // Six days on, a SAS for two more days would outlive the key: a new key is fetched first.
    offsetMs = 6 * day;
    const later = keyOf(await store.writeSasUrl('tenant-c', new Date(Date.now() + offsetMs + 2 * day)));
    expect(Date.parse(later.ske)).toBeGreaterThan(Date.parse(first.ske));
    expect(Date.parse(later.skt)).toBeGreaterThan(Date.parse(first.skt));
    offsetMs = 0;
  });

  it('never signs past the key: a SAS asked to outlive any key ends with its key', async () => {
    const sas = new URL(await store.writeSasUrl('tenant-c', new Date(Date.now() + 8 * day)));
    expect(sas.searchParams.get('se')).toBe(sas.searchParams.get('ske'));
  });

  it('builds the SAS fields from the key alone (no service needed)', () => {
    const key: UserDelegationKey = {
      signedObjectId: OID,
      signedTenantId: TID,
      signedStartsOn: new Date('2026-01-01T00:00:00Z'),
      signedExpiresOn: new Date('2026-01-08T00:00:00Z'),
      signedService: 'b',
      signedVersion: '2025-11-05',
      value: Buffer.from('k'.repeat(32)).toString('base64'),
    };
    const query = new URLSearchParams(
      userDelegationSasQuery({
        containerName: 'results-x',
        accountName: 'acct',
        permissions: 'rl',
        expiresAt: new Date('2026-01-03T00:00:00Z'),
        key,
      }),
    );
    expect(Object.fromEntries(query)).toMatchObject({
      sp: 'rl',
      sr: 'c',
      spr: 'https',
      se: '2026-01-03T00:00:00Z',
      skoid: OID,
      sktid: TID,
      skt: '2026-01-01T00:00:00Z',
      ske: '2026-01-08T00:00:00Z',
    });
    expect(query.get('sig')).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(query.has('st')).toBe(false);
  });

  it('refuses to sign with a connection string that has no account key, naming why', async () => {
    const sasOnly = createResultsStore({
      kind: 'connectionString',
      connectionString: `BlobEndpoint=${blobServiceUri};SharedAccessSignature=sv=2025-11-05&sig=abc`,
    });
    await expect(sasOnly.writeSasUrl('tenant-d', new Date(Date.now() + hour))).rejects.toMatchObject({
      code: 'ResultsStoreUnavailable',
    });
  });
});
