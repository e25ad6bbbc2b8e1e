/**
 * The URL forms TES clients send (shared/model/tes-urls.ts): each Blob form, plain http(s), the
 * local Azurite form behind its switch, `file://` URLs on the tenant's shared file systems, and the
 * schemes Slotwise cannot stage.
 */
import { describe, expect, it } from 'vitest';
import { containsSas } from '../../../shared/core/redact-sas.js';
import { classifyTesUrl, redactUrlSas, type TesUrl } from '../../../shared/model/tes-urls.js';

const remote = { allowLoopbackHttp: false };
const local = { allowLoopbackHttp: true };
const sas = 'sv=2022-11-02&sp=rw&se=2030-01-01T00%3A00%3A00Z&sig=c2lnbmF0dXJl%3D';

const blob = (containerUrl: string, blobPath: string, withSas?: string): TesUrl => ({
  kind: 'blob',
  containerUrl,
  blobPath,
  ...(withSas !== undefined && { sas: withSas }),
});

const reasonOf = (url: string, options = remote) => {
  const c = classifyTesUrl(url, options);
  if (c.kind !== 'unsupported') throw new Error(`${url} was ${c.kind}`);
  return c;
};

describe('classifyTesUrl: Azure Blob forms', () => {
  it('reads https://<account>.blob.core.windows.net/<container>/<path>?<sas>', () => {
    expect(
      classifyTesUrl(`https://acct.blob.core.windows.net/data/dir/file.txt?${sas}`, remote),
    ).toStrictEqual(blob('https://acct.blob.core.windows.net/data', 'dir/file.txt', sas));
  });

  it('leaves sas out when the URL has none, and drops a query without sig', () => {
    expect(classifyTesUrl('https://acct.blob.core.windows.net/data/f', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'f'),
    );
    expect(classifyTesUrl('https://acct.blob.core.windows.net/data/f?versionid=1', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'f'),
    );
  });

  it('reads other clouds’ endpoint suffixes and the DNS zone form', () => {
    expect(classifyTesUrl('https://gov1.blob.core.usgovcloudapi.net/data/f', remote)).toStrictEqual(
      blob('https://gov1.blob.core.usgovcloudapi.net/data', 'f'),
    );
    expect(classifyTesUrl('https://cn1acct.blob.core.chinacloudapi.cn/data/f', remote)).toStrictEqual(
      blob('https://cn1acct.blob.core.chinacloudapi.cn/data', 'f'),
    );
    expect(classifyTesUrl('https://acct.z12.blob.storage.azure.net/data/f', remote)).toStrictEqual(
      blob('https://acct.z12.blob.storage.azure.net/data', 'f'),
    );
  });

  it('takes a container with no blob path (a folder URL) as blobPath ""', () => {
    expect(classifyTesUrl('https://acct.blob.core.windows.net/data', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', ''),
    );
    expect(classifyTesUrl(`https://acct.blob.core.windows.net/data/?${sas}`, remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', '', sas),
    );
    expect(classifyTesUrl('https://acct.blob.core.windows.net/data/out/', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'out/'),
    );
  });

  it('reads az://<account>/<container>/<path> as the account’s public endpoint', () => {
    expect(classifyTesUrl('az://acct/data/dir/file.txt', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'dir/file.txt'),
    );
    expect(classifyTesUrl(`az://acct/data/f?${sas}`, remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'f', sas),
    );
    expect(reasonOf('az://my_acct/data/f')).toMatchObject({
      scheme: 'az',
      reason: expect.stringMatching(/storage account name/),
    });
    expect(reasonOf('az:data/f')).toMatchObject({ scheme: 'az' });
  });

  it('reads /<account>/<container>/<path> (Cromwell on Azure, TES on Azure) the same way', () => {
    expect(classifyTesUrl('/acct/data/dir/file.txt', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'dir/file.txt'),
    );
    expect(reasonOf('/a/data/f')).toMatchObject({ scheme: '', reason: expect.stringMatching(/account/) });
    expect(reasonOf('/acct')).toMatchObject({ reason: expect.stringMatching(/no container/) });
  });

  it('checks container names (3-63 lowercase letters, digits, single hyphens)', () => {
    for (const name of ['ab', 'Data', 'a--b', '-ab', 'ab-', 'a_b', 'x'.repeat(64)]) {
      expect(reasonOf(`https://acct.blob.core.windows.net/${name}/f`)).toMatchObject({
        scheme: 'https',
        reason: expect.stringMatching(/container names are 3 to 63/),
      });
      expect(reasonOf(`az://acct/${name}/f`).reason).toMatch(/container names/);
    }
    for (const name of ['abc', 'a-b-c', 'x'.repeat(63), '0data9']) {
      expect(classifyTesUrl(`https://acct.blob.core.windows.net/${name}/f`, remote).kind).toBe('blob');
    }
    expect(reasonOf('https://acct.blob.core.windows.net/').reason).toMatch(/no container/);
  });

  it('percent-decodes the blob path once, the same in every form', () => {
    for (const url of [
      'https://acct.blob.core.windows.net/data/my%20dir/a%23b%25.txt',
      'az://acct/data/my%20dir/a%23b%25.txt',
      '/acct/data/my%20dir/a%23b%25.txt',
    ]) {
      expect(classifyTesUrl(url, remote)).toStrictEqual(
        blob('https://acct.blob.core.windows.net/data', 'my dir/a#b%.txt'),
      );
    }
    expect(reasonOf('https://acct.blob.core.windows.net/data/a%zz').reason).toMatch(/percent-escape/);
  });

  it('resolves . and .. segments as a URL parser does, in every form', () => {
    expect(classifyTesUrl('https://acct.blob.core.windows.net/data/a/../b/./c', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'b/c'),
    );
    expect(classifyTesUrl('az://acct/data/a/../b', remote)).toStrictEqual(
      blob('https://acct.blob.core.windows.net/data', 'b'),
    );
  });

  it('refuses a Blob host over plain http, and credentials in the URL', () => {
    expect(reasonOf('http://acct.blob.core.windows.net/data/f').reason).toMatch(/https/);
    expect(reasonOf('https://user:pw@acct.blob.core.windows.net/data/f').reason).toMatch(
      /user name or password/,
    );
  });
});

describe('classifyTesUrl: Azurite on the local stack', () => {
  const azurite = 'http://127.0.0.1:10000/devstoreaccount1';

  it('reads path-style loopback URLs as Blob when the switch is on', () => {
    expect(classifyTesUrl(`${azurite}/data/dir/f?${sas}`, local)).toStrictEqual(
      blob(`${azurite}/data`, 'dir/f', sas),
    );
    expect(classifyTesUrl('http://localhost:10000/devstoreaccount1/data/f', local)).toStrictEqual(
      blob('http://localhost:10000/devstoreaccount1/data', 'f'),
    );
    expect(classifyTesUrl('http://[::1]:10000/devstoreaccount1/data/f', local)).toStrictEqual(
      blob('http://[::1]:10000/devstoreaccount1/data', 'f'),
    );
  });

  it('reads other loopback URLs as plain downloads when the switch is on', () => {
    expect(classifyTesUrl('http://127.0.0.1:8080/files/a.txt', local)).toStrictEqual({
      kind: 'http',
      url: 'http://127.0.0.1:8080/files/a.txt',
    });
  });

  it('refuses loopback hosts when the switch is off: on a node they name the node', () => {
    for (const url of [
      `${azurite}/data/f`,
      'http://localhost/x',
      'https://[::1]/x',
      'http://127.1.2.3/x',
      'http://0.0.0.0/x',
    ]) {
      expect(reasonOf(url).reason).toMatch(/loopback/);
    }
  });
});

describe('classifyTesUrl: plain downloads and unsupported schemes', () => {
  it('takes other http(s) URLs, public http included, as plain downloads', () => {
    expect(classifyTesUrl('https://ftp.ensembl.org/pub/x.fa.gz?a=1', remote)).toStrictEqual({
      kind: 'http',
      url: 'https://ftp.ensembl.org/pub/x.fa.gz?a=1',
    });
    expect(classifyTesUrl('http://example.org/data.txt', remote)).toStrictEqual({
      kind: 'http',
      url: 'http://example.org/data.txt',
    });
  });

  it('names the scheme and what Slotwise supports for everything else', () => {
    for (const [url, scheme] of [
      ['s3://bucket/key', 's3'],
      ['gs://bucket/key', 'gs'],
      ['file:///data/x', 'file'],
      ['ftp://ftp.example.org/x', 'ftp'],
      ['drs://drs.example.org/123', 'drs'],
      ['HTSGET://x/y', 'htsget'],
    ] as const) {
      const c = reasonOf(url);
      expect(c.scheme).toBe(scheme);
      expect(c.reason).toContain(`${scheme}://`);
      expect(c.reason).toMatch(/Azure Blob storage/);
    }
  });

  it('refuses relative paths and control characters', () => {
    expect(reasonOf('data/file.txt')).toMatchObject({
      scheme: '',
      reason: expect.stringMatching(/absolute URL/),
    });
    expect(reasonOf('https://x.example/a\nb').reason).toMatch(/control/);
  });
});

describe('redactUrlSas', () => {
  it('hides the signature and keeps the rest readable', () => {
    const url = `https://acct.blob.core.windows.net/data/f?${sas}`;
    const redacted = redactUrlSas(url);
    expect(containsSas(url)).toBe(true);
    expect(containsSas(redacted)).toBe(false);
    expect(redacted).toBe(
      'https://acct.blob.core.windows.net/data/f?sv=2022-11-02&sp=rw&se=2030-01-01T00%3A00%3A00Z&sig=REDACTED',
    );
    expect(redactUrlSas('az://acct/data/f')).toBe('az://acct/data/f');
  });
});

describe('classifyTesUrl: file:// URLs on a shared file system', () => {
  const roots = { allowLoopbackHttp: false, sharedRoots: ['/mnt/work', '/mnt/work/deep', '/srv/ref'] };
  const shared = (fileSystem: number, path: string): TesUrl => ({ kind: 'shared', fileSystem, path });

  it('names the path below the longest root that holds it, in every form clients write', () => {
    expect(classifyTesUrl('file:///mnt/work/tmp1/hello.txt', roots)).toStrictEqual(
      shared(0, 'tmp1/hello.txt'),
    );
    expect(classifyTesUrl('file:/mnt/work/tmp1/hello.txt', roots)).toStrictEqual(shared(0, 'tmp1/hello.txt'));
    expect(classifyTesUrl('file://localhost/srv/ref/g.fa', roots)).toStrictEqual(shared(2, 'g.fa'));
    expect(classifyTesUrl('FILE:///srv/ref/g.fa', roots)).toStrictEqual(shared(2, 'g.fa'));
    // A folder URL (cwl-tes ends DIRECTORY outputs with '/') and the root itself.
    expect(classifyTesUrl('file:///mnt/work/tmp1/', roots)).toStrictEqual(shared(0, 'tmp1'));
    expect(classifyTesUrl('file:///mnt/work', roots)).toStrictEqual(shared(0, ''));
    expect(classifyTesUrl('file:///mnt/work/deep/x', roots)).toStrictEqual(shared(1, 'x'));
    expect(classifyTesUrl('file:///mnt/work/deeper/x', roots)).toStrictEqual(shared(0, 'deeper/x'));
    // Doubled slashes are one, as POSIX reads paths.
    expect(classifyTesUrl('file:///mnt//work///a//b', roots)).toStrictEqual(shared(0, 'a/b'));
  });

  it('decodes percent-escapes once per segment', () => {
    expect(classifyTesUrl('file:///mnt/work/my%20dir/a%2525.txt', roots)).toStrictEqual(
      shared(0, 'my dir/a%25.txt'),
    );
    expect(classifyTesUrl('file:///mnt/work/caf%C3%A9', roots)).toStrictEqual(shared(0, 'café'));
  });

  it('resolves . and .. before matching, so no URL reaches outside its root', () => {
    expect(classifyTesUrl('file:///mnt/work/a/../b/./c', roots)).toStrictEqual(shared(0, 'b/c'));
    for (const outside of [
      'file:///mnt/work/../../etc/passwd',
      'file:///mnt/work/%2e%2e/secret',
      'file:///mnt/work/..%2F..%2Fetc',
      'file:///mnt/work/a%00b',
    ])
      expect(classifyTesUrl(outside, roots).kind, outside).toBe('unsupported');
    expect(reasonOf('file:///mnt/work/..%2F..%2Fetc', roots).reason).toMatch(/encoded '\/'/);
  });

  it('refuses other files, other hosts and tenants without file systems, saying why', () => {
    expect(reasonOf('file:///mnt/workshop/x', roots).reason).toMatch(
      /one of this tenant's shared file systems \(\/mnt\/work, \/mnt\/work\/deep, \/srv\/ref\)/,
    );
    expect(reasonOf('file:///etc/passwd', roots).scheme).toBe('file');
    expect(reasonOf('file://fileserver/mnt/work/x', roots).reason).toMatch(/names host 'fileserver'/);
    expect(reasonOf('file:///mnt/work/x', remote).reason).toMatch(/no shared file system for TES/);
    expect(reasonOf('file:///mnt/work/%zz', roots).reason).toMatch(/percent-escape/);
  });
});
