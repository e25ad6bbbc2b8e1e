/**
 * A TES task's Batch body (shared/planner/tes-task-body.ts) on its own: its shape, how inputs and
 * outputs become resource and output files, what is refused, that every TES string reaches
 * `docker run` exactly (property tests in real bash with a stand-in `docker`, and in the emulator's
 * shell), the wrapper's semantics in real bash, `file://` URLs staged through a tenant's shared file
 * system (in real bash and in the emulator's shell), and the size of a chunk of 100 bodies.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_RESULTS_URL_LENGTH,
  RESULTS_STORE_URL,
  type TaskBody,
} from '../../../shared/model/batch-bodies.js';
import type { TesFileSystem } from '../../../shared/model/tenant-policy.js';
import { parseTesRunReport, tesOutcome } from '../../../shared/model/tes-run-report.js';
import type { TesExecutor } from '../../../shared/model/tes-task.js';
import {
  shellQuote,
  tesContentBlobPath,
  tesExecutorLogPath,
  tesRunPath,
  tesRunReportPath,
  tesTaskBody,
} from '../../../shared/planner/tes-task-body.js';
import { runLocally, type TaskParts, tesDoc, WD } from './fixtures.js';

const BLOB = 'https://acct1.blob.core.windows.net';
const SAS = 'sv=2024-01-01&sp=rw&sig=c2VjcmV0';
const local = { allowLoopbackHttp: false };

function body(parts: TaskParts, ctx = local): TaskBody {
  const built = tesTaskBody(tesDoc(parts), ctx);
  if (!built.ok) throw new Error(built.reason);
  return built.body;
}

function refusal(parts: TaskParts, ctx = local): string {
  const built = tesTaskBody(tesDoc(parts), ctx);
  if (built.ok) throw new Error('accepted');
  expect(built.reason).not.toMatch(/sig=/);
  return built.reason;
}

const echo: TesExecutor = { image: 'alpine', command: ['echo', 'hi'] };

describe('the body', () => {
  it('is one Batch task as the pool-scoped admin auto-user, without retries or container settings', () => {
    const b = body({ id: 'tes-42', executors: [echo] });
    expect(b.id).toBe('tes-42');
    expect(b.requiredSlots).toBe(2);
    expect(b.userIdentity).toEqual({ autoUser: { scope: 'pool', elevationLevel: 'admin' } });
    expect(b.constraints).toEqual({ maxTaskRetryCount: 0 });
    expect(b.containerSettings).toBeUndefined();
    expect(b.commandLine.startsWith('/bin/bash -c ')).toBe(true);
    // The report and the logs go to the tenant's results store, whatever the task's end.
    expect(b.outputFiles).toEqual([
      {
        filePattern: 'tes/run/*',
        destination: { container: { containerUrl: RESULTS_STORE_URL, path: 'tes/tes-42/run' } },
        uploadOptions: { uploadCondition: 'taskcompletion' },
      },
    ]);
  });

  it('names the results store paths the reconcile pass and the create use case use', () => {
    expect(tesRunPath('t1')).toBe('tes/t1/run');
    expect(tesRunReportPath('t1')).toBe('tes/t1/run/report.txt');
    expect(tesExecutorLogPath('t1', 3, 'stderr')).toBe('tes/t1/run/stderr-3.txt');
    expect(tesContentBlobPath('t1', 1)).toBe('tes/t1/inputs/1/content');
    // Input 1's prefix is not a prefix of input 10's blob.
    expect(tesContentBlobPath('t1', 10).startsWith(`${tesContentBlobPath('t1', 1)}/`)).toBe(false);
  });

  it('stages FILE inputs from Blob (with or without SAS) and http URLs at their mirror paths', () => {
    const b = body({
      executors: [echo],
      inputs: [
        { path: '/data/a b.txt', type: 'FILE', url: `${BLOB}/inputs/dir/a%20b.txt?${SAS}` },
        { path: '/data/public.txt', type: 'FILE', url: 'az://acct1/pub/p.txt' },
        { path: '/ref/genome.fa', type: 'FILE', url: 'https://example.org/genome.fa' },
      ],
    });
    expect(b.resourceFiles).toEqual([
      { httpUrl: `${BLOB}/inputs/dir/a%20b.txt?${SAS}`, filePath: 'tes/root/data/a b.txt' },
      { httpUrl: `${BLOB}/pub/p.txt`, filePath: 'tes/root/data/public.txt' },
      { httpUrl: 'https://example.org/genome.fa', filePath: 'tes/root/ref/genome.fa' },
    ]);
  });

  it('stages a DIRECTORY input from a container and prefix, and content inputs from the results store', () => {
    const b = body({
      id: 't9',
      executors: [echo],
      inputs: [
        { path: '/ref', type: 'DIRECTORY', url: `${BLOB}/refs/hg38/?${SAS}` },
        { path: '/all', type: 'DIRECTORY', url: `${BLOB}/refs` },
        { path: '/etc/conf.txt', type: 'FILE', content: 'a=1' },
        { path: '/etc/more.txt', type: 'FILE', content: 'b=2' },
      ],
    });
    expect(b.resourceFiles).toEqual([
      { storageContainerUrl: `${BLOB}/refs?${SAS}`, blobPrefix: 'hg38/', filePath: 'tes/stage/0' },
      { storageContainerUrl: `${BLOB}/refs`, filePath: 'tes/stage/1' },
      // One resource file for every content input of the task.
      { storageContainerUrl: RESULTS_STORE_URL, blobPrefix: 'tes/t9/inputs/', filePath: 'tes/stage/c' },
    ]);
  });

  it('uploads FILE, DIRECTORY and wildcard outputs to the URL container with the blob names TES asks for', () => {
    const b = body({
      executors: [echo],
      outputs: [
        { path: '/out/result.txt', type: 'FILE', url: `${BLOB}/res/run1/result.txt?${SAS}` },
        { path: '/out/plots', type: 'DIRECTORY', url: `az://acct1/res/run1/plots?${SAS}` },
        // match − path_prefix: /work/logs/a.log − /work/ = logs/a.log, under run1/all/.
        { path: '/work/logs/*.log', path_prefix: '/work/', type: 'FILE', url: `${BLOB}/res/run1/all?${SAS}` },
        { path: '/work/**/*.bam', path_prefix: '/work', type: 'FILE', url: `${BLOB}/res/bams/?${SAS}` },
      ],
    });
    const container = `${BLOB}/res?${SAS}`;
    const upload = (filePattern: string, path: string) => ({
      filePattern,
      destination: { container: { containerUrl: container, path } },
      uploadOptions: { uploadCondition: 'taskcompletion' },
    });
    expect(b.outputFiles?.slice(0, 4)).toEqual([
      upload('tes/root/out/result.txt', 'run1/result.txt'),
      upload('tes/root/out/plots/**/*', 'run1/plots'),
      upload('tes/root/work/logs/*.log', 'run1/all/logs'),
      upload('tes/root/work/**/*.bam', 'bams'),
    ]);
  });

  it('binds every input, volume and output folder once into each executor, nested ones folded', () => {
    const b = body({
      executors: [
        { image: 'alpine', command: ['true'], stdout: '/logs/out.txt' },
        { image: 'alpine', command: ['true'] },
      ],
      inputs: [
        { path: '/data/in.txt', type: 'FILE', url: 'https://example.org/in.txt' },
        { path: '/data/sub/more.txt', type: 'FILE', url: 'https://example.org/more.txt' },
      ],
      volumes: ['/scratch'],
      outputs: [{ path: '/data/sub/out.txt', type: 'FILE', url: `${BLOB}/res/o.txt?${SAS}` }],
    });
    const runs = b.commandLine.split('\n').filter((l) => l.startsWith('docker run'));
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      const binds = [...run.matchAll(/-v "\$R"(\S+?):(\S+)/g)].map((m) => [m[1], m[2]]);
      expect(binds).toEqual([
        ['/data/in.txt', '/data/in.txt'],
        ['/data/sub', '/data/sub'],
        ['/logs', '/logs'],
        ['/scratch', '/scratch'],
      ]);
    }
  });

  it('keeps a chunk of 100 typical tasks under Batch’s 1 MB add-collection body, with the results URLs resolved', () => {
    const bodies = Array.from({ length: 100 }, (_, i) =>
      body({
        id: `tes-${String(i).padStart(26, '0')}`,
        executors: [
          {
            image: 'quay.io/biocontainers/samtools:1.19--h50ea8bc_0',
            command: [
              'bash',
              '-o',
              'pipefail',
              '-c',
              'samtools sort -o /out/sorted.bam /in/reads.bam 2>&1 | tee /out/log',
            ],
            env: { THREADS: '4' },
            workdir: '/out',
          },
        ],
        inputs: [
          { path: '/in/reads.bam', type: 'FILE', url: `${BLOB}/inputs/sample-${i}/reads.bam?${SAS}` },
          { path: '/in/params.json', type: 'FILE', content: '{}' },
        ],
        outputs: [
          { path: '/out/sorted.bam', type: 'FILE', url: `${BLOB}/outputs/sample-${i}/sorted.bam?${SAS}` },
          { path: '/out/log', type: 'FILE', url: `${BLOB}/outputs/sample-${i}/log?${SAS}` },
        ],
      }),
    );
    const text = JSON.stringify({ value: bodies });
    const references = text.split(`"${RESULTS_STORE_URL}"`).length - 1;
    const resolved =
      Buffer.byteLength(text) + references * (MAX_RESULTS_URL_LENGTH - RESULTS_STORE_URL.length);
    expect(resolved).toBeLessThan(1_000_000);
    // Each body stays a few kilobytes.
    expect(Buffer.byteLength(JSON.stringify(bodies[0]))).toBeLessThan(5000);
  });
});

describe('what cannot be served', () => {
  it('refuses URLs Slotwise cannot stage, naming the input or output', () => {
    expect(
      refusal({ executors: [echo], inputs: [{ path: '/d', type: 'FILE', url: 's3://bucket/key' }] }),
    ).toMatch(/^inputs\[0\] \(\/d\): the url s3:\/\/ URLs are not supported/);
    expect(
      refusal({ executors: [echo], outputs: [{ path: '/o', type: 'FILE', url: 'gs://bucket/key' }] }),
    ).toMatch(/^outputs\[0\] \(\/o\): the url gs:\/\/ URLs are not supported/);
  });

  it('refuses an output URL without a SAS, or that is not Blob storage', () => {
    expect(
      refusal({ executors: [echo], outputs: [{ path: '/o', type: 'FILE', url: `${BLOB}/res/o` }] }),
    ).toMatch(/outputs\[0\].*with a SAS granting write \(this URL has no SAS\)/);
    expect(
      refusal({
        executors: [echo],
        outputs: [{ path: '/o', type: 'FILE', url: 'https://example.org/upload' }],
      }),
    ).toMatch(/outputs\[0\].*not a Blob URL/);
  });

  it('refuses a DIRECTORY input over plain http, and a loopback URL off the local stack', () => {
    expect(
      refusal({
        executors: [echo],
        inputs: [{ path: '/d', type: 'DIRECTORY', url: 'https://example.org/d/' }],
      }),
    ).toMatch(/DIRECTORY input needs an Azure Blob URL/);
    expect(
      refusal({ executors: [echo], inputs: [{ path: '/d', type: 'FILE', url: 'http://127.0.0.1:9/x' }] }),
    ).toMatch(/loopback/);
    expect(
      body(
        { executors: [echo], inputs: [{ path: '/d', type: 'FILE', url: 'http://127.0.0.1:9/x' }] },
        { allowLoopbackHttp: true },
      ).resourceFiles,
    ).toEqual([{ httpUrl: 'http://127.0.0.1:9/x', filePath: 'tes/root/d' }]);
  });

  it('refuses a path_prefix that does not end at a folder of the pattern (Batch cannot name such blobs)', () => {
    const reason = refusal({
      executors: [echo],
      outputs: [
        { path: '/out/sample*.txt', path_prefix: '/out/sam', type: 'FILE', url: `${BLOB}/res/x?${SAS}` },
      ],
    });
    expect(reason).toMatch(/path_prefix '\/out\/sam' must end at a folder of '\/out'/);
  });

  it('refuses what Docker cannot bind, what could be an option, and NUL characters', () => {
    expect(
      refusal({ executors: [echo], inputs: [{ path: '/a:b', type: 'FILE', url: 'https://example.org/x' }] }),
    ).toMatch(/':' cannot be mounted/);
    expect(refusal({ executors: [echo], volumes: ['/'] })).toMatch(/\/ itself cannot be mounted/);
    expect(refusal({ executors: [{ image: '--privileged', command: [] }] })).toMatch(/executors\[0\]\.image/);
    expect(refusal({ executors: [{ image: 'alpine', command: ['a\0b'] }] })).toMatch(
      /command\[0\]: must not contain a NUL/,
    );
    expect(refusal({ executors: [{ image: 'alpine', command: [], env: { 'A=B': '1' } }] })).toMatch(/env/);
    expect(
      refusal({
        executors: [echo],
        outputs: [{ path: '/o/$HOME', type: 'FILE', url: `${BLOB}/res/x?${SAS}` }],
      }),
    ).toMatch(/'\$'/);
    expect(
      refusal({
        executors: [echo],
        outputs: [{ path: '/top.txt', type: 'FILE', url: `${BLOB}/res/x?${SAS}` }],
      }),
    ).toMatch(/directly under \/ cannot be mounted/);
  });
});

// ---------------------------------------------------------------------------------------------
// The wrapper in real bash, with a stand-in for `docker` that records its arguments

let bin: string;

beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'tes-docker-'));
  const docker = join(bin, 'docker');
  writeFileSync(
    docker,
    `#!/bin/bash
[ "$1" = version ] && exit "\${FAKE_DOCKER_VERSION_EXIT:-0}"
n=$(ls "$DOCKER_LOG_DIR" | wc -l)
printf '%s\\0' "$@" > "$DOCKER_LOG_DIR/call-$n"
shift
interactive=
while [ $# -gt 0 ]; do
  case "$1" in
    --rm) shift ;;
    -i) interactive=1; shift ;;
    -v|-w|-e) shift 2 ;;
    *) break ;;
  esac
done
image=$1
[ -n "$interactive" ] && cat > "$DOCKER_LOG_DIR/stdin-$n"
echo "out:$image"
echo "err:$image" >&2
case "$image" in exit-*) exit "\${image#exit-}" ;; esac
exit 0
`,
  );
  chmodSync(docker, 0o755);
});

afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** Runs a body as Batch would on Linux (the command line's words as argv; sh splits them the same). */
function runInBash(
  b: TaskBody,
  options: { files?: Record<string, string>; env?: Record<string, string> } = {},
) {
  const wd = mkdtempSync(join(tmpdir(), 'tes-wd-'));
  const logs = join(wd, '..', `${wd.split('/').pop()}-docker`);
  mkdirSync(logs);
  for (const [path, text] of Object.entries(options.files ?? {})) {
    mkdirSync(join(wd, path, '..'), { recursive: true });
    writeFileSync(join(wd, path), text);
  }
  const r = spawnSync('/bin/sh', ['-c', b.commandLine], {
    cwd: wd,
    env: {
      PATH: `${bin}:/usr/bin:/bin`,
      AZ_BATCH_TASK_WORKING_DIR: wd,
      DOCKER_LOG_DIR: logs,
      ...options.env,
    },
    encoding: 'utf8',
  });
  const calls = readdirSync(logs)
    .filter((f) => f.startsWith('call-'))
    .sort((a, c) => Number(a.slice(5)) - Number(c.slice(5)))
    .map((f) => readFileSync(join(logs, f)).toString('utf8').split('\0').slice(0, -1));
  const read = (path: string) => {
    try {
      return readFileSync(join(wd, path), 'utf8');
    } catch {
      return undefined;
    }
  };
  const result = {
    status: r.status,
    stderr: r.stderr,
    wd,
    logs,
    calls,
    read,
    report: read('tes/run/report.txt'),
  };
  return result;
}

/** Strings of any Unicode (well-formed, so they survive UTF-8 argv) but NUL. */
const text = (options: { minLength?: number; maxLength?: number } = {}) =>
  fc
    .string({ unit: 'binary', maxLength: 24, ...options })
    .filter((s) => !s.includes('\0') && !/\p{Surrogate}/u.test(s));

/** One path segment: no '/', no control characters, not '.' or '..', no ':' (Docker's -v separator). */
const segment = text({ minLength: 1, maxLength: 8 }).filter(
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is left out
  (s) => !/[/:\u0000-\u001f\u007f]/.test(s) && s !== '.' && s !== '..',
);
const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((segs) => `/${segs.join('/')}`);

describe('quoting: every TES string reaches docker run exactly', () => {
  it('in real bash, for arbitrary command arguments, environment, working directory and image', () => {
    fc.assert(
      fc.property(
        fc.array(text(), { maxLength: 5 }),
        fc.dictionary(
          text({ minLength: 1, maxLength: 8 }).filter((k) => !k.includes('=')),
          text(),
          { maxKeys: 3 },
        ),
        path,
        text({ minLength: 1, maxLength: 12 }).filter(
          // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is left out
          (s) => !s.startsWith('-') && !/[\s\u0000-\u001f\u007f]/.test(s),
        ),
        (command, env, workdir, image) => {
          const r = runInBash(body({ executors: [{ image, command, env, workdir }] }));
          try {
            expect(r.calls).toHaveLength(1);
            const argv = r.calls[0]!;
            expect(argv.slice(0, 2)).toEqual(['run', '--rm']);
            expect(argv.slice(argv.length - command.length - 1)).toEqual([image, ...command]);
            const options = argv.slice(2, argv.length - command.length - 1);
            expect(options.slice(options.indexOf('-w'), options.indexOf('-w') + 2)).toEqual(['-w', workdir]);
            const envs = options.flatMap((o, i) => (options[i - 1] === '-e' ? [o] : []));
            expect(envs).toEqual(Object.entries(env).map(([k, v]) => `${k}=${v}`));
            expect(parseTesRunReport(r.report ?? '')?.executors).toHaveLength(1);
          } finally {
            rmSync(r.wd, { recursive: true, force: true });
            rmSync(r.logs, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 150, seed: 20260101 },
    );
  });

  it('in real bash, for arbitrary input, volume and output paths (the binds)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(path, { minLength: 1, maxLength: 3 }), (volumes) => {
        const r = runInBash(body({ volumes, executors: [echo] }));
        try {
          const argv = r.calls[0]!;
          const binds = argv.flatMap((a, i) => (argv[i - 1] === '-v' ? [a] : []));
          // Every volume is bound at its path, from its mirror, unless an outer volume shows it.
          for (const v of volumes) {
            const outer = volumes.find((o) => v !== o && v.startsWith(`${o}/`));
            if (outer) continue;
            expect(binds).toContain(`${r.wd}/tes/root${v}:${v}`);
          }
        } finally {
          rmSync(r.wd, { recursive: true, force: true });
          rmSync(r.logs, { recursive: true, force: true });
        }
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('in the emulator, arguments and environment values arrive unchanged inside the container', () => {
    fc.assert(
      fc.property(text(), text(), (arg, value) => {
        const b = body({
          executors: [
            {
              image: 'alpine',
              command: ['sh', '-c', 'echo x"$1" >/o/arg; echo x"$V" >/o/env', 'sh', arg],
              env: { V: value },
            },
          ],
          volumes: ['/o'],
        });
        const r = runLocally(b);
        expect(r.exitCode).toBe(0);
        expect(r.read('tes/root/o/arg')).toBe(`x${arg}\n`);
        expect(r.read('tes/root/o/env')).toBe(`x${value}\n`);
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('shellQuote leaves safe words bare and single-quotes the rest', () => {
    expect(shellQuote('/data/in.txt')).toBe('/data/in.txt');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's $HOME *")).toBe(`'it'\\''s $HOME *'`);
    expect(shellQuote('~root')).toBe("'~root'");
    expect(shellQuote('a{b,c}')).toBe("'a{b,c}'");
  });
});

describe('the wrapper in real bash', () => {
  const run = (executors: TesExecutor[], env: Record<string, string> = {}) => {
    const r = runInBash(body({ executors }), { env });
    return { ...r, parsed: parseTesRunReport(r.report ?? '') };
  };

  it('runs executors in order, stops at the first failure and exits with its code', () => {
    const r = run([
      { image: 'exit-0', command: [] },
      { image: 'exit-3', command: [] },
      { image: 'exit-0', command: [] },
    ]);
    expect(r.status).toBe(3);
    expect(r.calls.map((argv) => argv[2])).toEqual(['exit-0', 'exit-3']);
    expect(r.parsed?.executors.map((e) => [e.index, e.exitCode, e.ignored])).toEqual([
      [0, 0, false],
      [1, 3, false],
    ]);
    expect(r.parsed?.exitCode).toBe(3);
    expect(r.read('tes/run/stdout-1.txt')).toBe('out:exit-3\n');
    expect(r.read('tes/run/stderr-1.txt')).toBe('err:exit-3\n');
    for (const e of r.parsed?.executors ?? []) expect(e.startTime <= e.endTime).toBe(true);
  });

  it('goes on past an executor with ignore_error, and exits 0 when every other one ended well', () => {
    const r = run([
      { image: 'exit-5', command: [], ignore_error: true },
      { image: 'exit-0', command: [] },
    ]);
    expect(r.status).toBe(0);
    expect(r.parsed?.executors.map((e) => [e.exitCode, e.ignored])).toEqual([
      [5, true],
      [0, false],
    ]);
  });

  it('records its own failure apart from the executors’: no usable Docker runs nothing', () => {
    const r = run([{ image: 'exit-0', command: [] }], { FAKE_DOCKER_VERSION_EXIT: '1' });
    expect(r.status).toBe(1);
    expect(r.calls).toHaveLength(0);
    expect(r.parsed?.failures).toEqual(['Docker is not usable on the node (docker version failed)']);
    expect(r.parsed?.executors).toEqual([]);
  });

  it('feeds stdin from the mirror and copies stdout and stderr to their container paths', () => {
    const b = body({
      executors: [
        { image: 'exit-0', command: [], stdin: '/in/s.txt', stdout: '/out/o.txt', stderr: '/out/e.txt' },
      ],
      inputs: [{ path: '/in/s.txt', type: 'FILE', url: 'https://example.org/s' }],
    });
    const r = runInBash(b, { files: { 'tes/root/in/s.txt': 'the input' } });
    expect(r.status).toBe(0);
    expect(readFileSync(join(r.logs, 'stdin-0'), 'utf8')).toBe('the input');
    expect(r.read('tes/root/out/o.txt')).toBe('out:exit-0\n');
    expect(r.read('tes/root/out/e.txt')).toBe('err:exit-0\n');
  });

  it('stages content and DIRECTORY inputs into the mirror and lists the outputs with their sizes', () => {
    const b = body({
      id: 'tx',
      executors: [{ image: 'exit-0', command: [] }],
      inputs: [
        { path: '/cfg/a.txt', type: 'FILE', content: 'abc' },
        { path: '/ref', type: 'DIRECTORY', url: `${BLOB}/refs/hg38?${SAS}` },
      ],
      outputs: [
        { path: '/ref', type: 'DIRECTORY', url: `${BLOB}/res/ref?${SAS}` },
        { path: '/cfg/*.txt', path_prefix: '/cfg', type: 'FILE', url: `${BLOB}/res/cfg?${SAS}` },
        { path: '/out/missing.txt', type: 'FILE', url: `${BLOB}/res/m?${SAS}` },
      ],
    });
    const r = runInBash(b, {
      files: {
        'tes/stage/c/tes/tx/inputs/0/content': 'abc',
        'tes/stage/1/hg38/chr1.fa': '>chr1\n',
        'tes/stage/1/hg38/idx/chr1.fai': '12',
      },
    });
    expect(r.status).toBe(0);
    expect(r.read('tes/root/cfg/a.txt')).toBe('abc');
    expect(r.read('tes/root/ref/idx/chr1.fai')).toBe('12');
    expect(
      [...(parseTesRunReport(r.report ?? '')?.outputs ?? [])].sort((a, c) =>
        a.relative < c.relative ? -1 : 1,
      ),
    ).toEqual([
      { index: 1, sizeBytes: '3', relative: 'a.txt' },
      { index: 0, sizeBytes: '6', relative: 'chr1.fa' },
      { index: 0, sizeBytes: '2', relative: 'idx/chr1.fai' },
    ]);
    rmSync(r.wd, { recursive: true, force: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Shared file systems: file:// URLs under a root of the tenant's TES file systems

const FILE_SYSTEMS: TesFileSystem[] = [
  {
    root: '/eng/work',
    mount: {
      azureFiles: {
        accountName: 'acct1',
        shareName: 'work',
        relativeMountPath: 'tes-fs-0',
        accountKey: { secretRef: 'work-key' },
      },
    },
  },
  {
    root: '/eng/ref',
    mount: {
      azureFiles: {
        accountName: 'acct1',
        shareName: 'refs',
        relativeMountPath: 'tes-fs-1',
        accountKey: { secretRef: 'work-key' },
      },
    },
  },
];
const shares = { allowLoopbackHttp: false, fileSystems: FILE_SYSTEMS };

/** A task much as cwl-tes sends it (test/tes/interop/cwl), plus a wildcard, a folder input and a missing output. */
const sharedTask = (executors: TesExecutor[]): TaskParts => ({
  executors,
  inputs: [
    { path: '/var/lib/cwl/stg1/hello.txt', type: 'FILE', url: 'file:///eng/work/tmp1/hello.txt' },
    { path: '/ref', type: 'DIRECTORY', url: 'file:///eng/ref/hg38/' },
  ],
  outputs: [
    { path: '/w/copy.txt', type: 'FILE', url: 'file:///eng/work/tmp2/sub/copy.txt' },
    { path: '/w', type: 'DIRECTORY', url: 'file:///eng/work/tmp2/' },
    { path: '/w/my run*.log', path_prefix: '/w', type: 'FILE', url: 'file:///eng/work/logs' },
    { path: '/w/never.txt', type: 'FILE', url: 'file:///eng/work/tmp2/never.txt' },
  ],
});

/** The share folders as the node mounts them, in a temporary folder; `layout` relative path → content. */
function mountsDir(layout: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tes-mounts-'));
  for (const [path, text] of Object.entries(layout)) {
    if (path.endsWith('/')) mkdirSync(join(dir, path), { recursive: true });
    else {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
  }
  return dir;
}

const SHARE_LAYOUT = {
  'tes-fs-0/tmp1/hello.txt': 'hello world\n',
  'tes-fs-1/hg38/chr1.fa': '>chr1\n',
  'tes-fs-1/hg38/idx/.chr1.fai': '12',
};

describe('file:// URLs on a shared file system', () => {
  it('need no resource or output files: the wrapper copies through the mounted share', () => {
    const b = body(sharedTask([echo]), shares);
    expect(b.resourceFiles).toBeUndefined();
    expect(b.outputFiles).toEqual([
      {
        filePattern: 'tes/run/*',
        destination: { container: { containerUrl: RESULTS_STORE_URL, path: 'tes/task-1/run' } },
        uploadOptions: { uploadCondition: 'taskcompletion' },
      },
    ]);
    expect(b.commandLine).toContain('$AZ_BATCH_NODE_MOUNTS_DIR');
  });

  it('in real bash: stage inputs from the share and copy every output back, after the executors', () => {
    const mounts = mountsDir(SHARE_LAYOUT);
    const b = body(
      sharedTask([{ image: 'exit-0', command: [], stdout: '/w/copy.txt', stderr: '/w/my run1.log' }]),
      shares,
    );
    const r = runInBash(b, {
      env: { AZ_BATCH_NODE_MOUNTS_DIR: mounts },
      files: { 'tes/root/w/.hidden': 'h', 'tes/root/w/sub/deep.txt': 'deep', 'tes/root/w/run.log': 'no' },
    });
    try {
      expect(r.status, r.stderr).toBe(0);
      const report = parseTesRunReport(r.report ?? '');
      expect(report?.failures).toEqual([]);
      // Inputs: the file, and the folder's contents (hidden files too).
      expect(r.read('tes/root/var/lib/cwl/stg1/hello.txt')).toBe('hello world\n');
      expect(r.read('tes/root/ref/idx/.chr1.fai')).toBe('12');
      const argv = r.calls[0]!;
      const binds = argv.flatMap((a, i) => (argv[i - 1] === '-v' ? [a] : []));
      expect(binds).toContain(`${r.wd}/tes/root/var/lib/cwl/stg1/hello.txt:/var/lib/cwl/stg1/hello.txt`);
      // Outputs: the FILE output, the DIRECTORY output whole, the wildcard's matches, nothing missing.
      const share = (path: string) => {
        try {
          return readFileSync(join(mounts, 'tes-fs-0', path), 'utf8');
        } catch {
          return undefined;
        }
      };
      expect(share('tmp2/sub/copy.txt')).toBe('out:exit-0\n');
      expect(share('tmp2/copy.txt')).toBe('out:exit-0\n');
      expect(share('tmp2/.hidden')).toBe('h');
      expect(share('tmp2/sub/deep.txt')).toBe('deep');
      expect(share('tmp2/my run1.log')).toBe('err:exit-0\n');
      expect(share('logs/my run1.log')).toBe('err:exit-0\n');
      expect(share('logs/run.log')).toBeUndefined();
      expect(existsSync(join(mounts, 'tes-fs-0/tmp2/never.txt'))).toBe(false);
      // The source share is only read.
      expect(readdirSync(join(mounts, 'tes-fs-1'))).toEqual(['hg38']);
      // What the task log lists: every file copied, at its file:// URL.
      const outcome = tesOutcome({
        batch: { state: 'completed', result: 'success', exitCode: 0 },
        ...(report ? { report } : {}),
        cancelRequested: false,
        doc: { request: { outputs: sharedTask([]).outputs ?? [] } },
      });
      expect(outcome.state).toBe('COMPLETE');
      expect(outcome.log?.outputs.map((o) => `${o.url} ${o.size_bytes}`).sort()).toEqual([
        'file:///eng/work/logs/my%20run1.log 11',
        'file:///eng/work/tmp2/.hidden 1',
        'file:///eng/work/tmp2/copy.txt 11',
        'file:///eng/work/tmp2/my%20run1.log 11',
        'file:///eng/work/tmp2/run.log 2',
        'file:///eng/work/tmp2/sub/copy.txt 11',
        'file:///eng/work/tmp2/sub/deep.txt 4',
      ]);
    } finally {
      for (const dir of [r.wd, r.logs, mounts]) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in real bash: a share not mounted stops the run before anything, and its folder is never made', () => {
    const mounts = mountsDir({ 'tes-fs-1/hg38/chr1.fa': '>chr1\n' });
    const r = runInBash(body(sharedTask([{ image: 'exit-0', command: [] }]), shares), {
      env: { AZ_BATCH_NODE_MOUNTS_DIR: mounts },
    });
    try {
      expect(r.status).toBe(1);
      expect(r.calls).toHaveLength(0);
      expect(parseTesRunReport(r.report ?? '')?.failures).toEqual([
        'the shared file system /eng/work is not mounted on the node ($AZ_BATCH_NODE_MOUNTS_DIR/tes-fs-0)',
      ]);
      expect(existsSync(join(mounts, 'tes-fs-0'))).toBe(false);
    } finally {
      for (const dir of [r.wd, r.logs, mounts]) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in real bash: a failed copy is a failure naming the input or output and its URL', () => {
    // The input is missing from the share.
    const empty = mountsDir({ 'tes-fs-0/': '', 'tes-fs-1/hg38/': '' });
    const missing = runInBash(body(sharedTask([{ image: 'exit-0', command: [] }]), shares), {
      env: { AZ_BATCH_NODE_MOUNTS_DIR: empty },
    });
    // An output folder whose place on the share holds a file; the executor fails too.
    const blocked = mountsDir({ ...SHARE_LAYOUT, 'tes-fs-0/tmp2': 'a file' });
    const failing = runInBash(body(sharedTask([{ image: 'exit-3', command: [] }]), shares), {
      env: { AZ_BATCH_NODE_MOUNTS_DIR: blocked },
    });
    try {
      expect(missing.status).toBe(1);
      expect(missing.calls).toHaveLength(0);
      expect(parseTesRunReport(missing.report ?? '')?.failures).toEqual([
        'staging inputs[0] (/var/lib/cwl/stg1/hello.txt): copying file:///eng/work/tmp1/hello.txt failed',
      ]);
      // The executor's own exit code stays the wrapper's; both failures are reported.
      expect(failing.status).toBe(3);
      const report = parseTesRunReport(failing.report ?? '');
      expect(report?.executors.map((e) => e.exitCode)).toEqual([3]);
      expect(report?.failures).toEqual(['copying outputs[1] (/w) to file:///eng/work/tmp2/ failed']);
      expect(readFileSync(join(blocked, 'tes-fs-0/tmp2'), 'utf8')).toBe('a file');
    } finally {
      for (const r of [missing, failing]) {
        rmSync(r.wd, { recursive: true, force: true });
        rmSync(r.logs, { recursive: true, force: true });
      }
      for (const dir of [empty, blocked]) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in the emulator: the same staging and copies, with executors that write the files', () => {
    const MOUNTS = '/mnt/batch/tasks/fsmounts';
    const b = body(
      sharedTask([
        {
          image: 'alpine',
          command: [
            'sh',
            '-c',
            'cat /var/lib/cwl/stg1/hello.txt /ref/chr1.fa > copy.txt && echo x > "my run2.log"',
          ],
          workdir: '/w',
        },
      ]),
      shares,
    );
    const r = runLocally(b, { 'tes/root/w/.hidden': 'h' }, 'allowed', {
      env: { AZ_BATCH_NODE_MOUNTS_DIR: MOUNTS },
      files: Object.fromEntries(Object.entries(SHARE_LAYOUT).map(([p, t]) => [`${MOUNTS}/${p}`, t])),
    });
    expect(r.exitCode, r.report).toBe(0);
    expect(parseTesRunReport(r.report ?? '')?.failures).toEqual([]);
    expect(r.read(`${MOUNTS}/tes-fs-0/tmp2/sub/copy.txt`)).toBe('hello world\n>chr1\n');
    expect(r.read(`${MOUNTS}/tes-fs-0/tmp2/copy.txt`)).toBe('hello world\n>chr1\n');
    expect(r.read(`${MOUNTS}/tes-fs-0/tmp2/.hidden`)).toBe('h');
    expect(r.read(`${MOUNTS}/tes-fs-0/logs/my run2.log`)).toBe('x\n');
    expect(r.fs.lookup(`${MOUNTS}/tes-fs-0/tmp2/never.txt`)).toBeUndefined();
    expect(r.read(`${WD}/tes/root/ref/idx/.chr1.fai`)).toBe('12');
    const unmounted = runLocally(b, {}, 'allowed', { env: { AZ_BATCH_NODE_MOUNTS_DIR: MOUNTS } });
    expect(unmounted.exitCode).toBe(1);
    expect(parseTesRunReport(unmounted.report ?? '')?.failures[0]).toMatch(/is not mounted on the node/);
    expect(unmounted.fs.lookup(`${MOUNTS}/tes-fs-0`)).toBeUndefined();
  });

  it('refuses what it cannot copy, naming the input or output', () => {
    const task = (parts: Partial<TaskParts>): TaskParts => ({ executors: [echo], ...parts });
    expect(
      refusal(task({ inputs: [{ path: '/in/a', type: 'FILE', url: 'file:///eng/work/a' }] }), local),
    ).toMatch(/inputs\[0\] \(\/in\/a\): the url .*no shared file system for TES/);
    expect(
      refusal(task({ inputs: [{ path: '/in/a', type: 'FILE', url: 'file:///home/me/a' }] }), shares),
    ).toMatch(/one of this tenant's shared file systems \(\/eng\/work, \/eng\/ref\)/);
    expect(
      refusal(task({ inputs: [{ path: '/in/a', type: 'FILE', url: 'file:///eng/work/dir/' }] }), shares),
    ).toMatch(/inputs\[0\] \(\/in\/a\): the url names a folder, not a file/);
    expect(
      refusal(task({ outputs: [{ path: '/o/a', type: 'FILE', url: 'file:///eng/work' }] }), shares),
    ).toMatch(/outputs\[0\] \(\/o\/a\): the url names a folder, not a file/);
    expect(
      refusal(
        task({
          outputs: [{ path: '/o/*/a.txt', path_prefix: '/o', type: 'FILE', url: 'file:///eng/work/r' }],
        }),
        shares,
      ),
    ).toMatch(/wildcards only in the last segment/);
    expect(
      refusal(
        task({
          outputs: [{ path: "/o/[a'b]*", path_prefix: '/o', type: 'FILE', url: 'file:///eng/work/r' }],
        }),
        shares,
      ),
    ).toMatch(/bracket expression/);
  });

  it('quotes every path and URL: names with quotes, spaces and $ reach the share unchanged', () => {
    const weird = "it's $HOME `x` *";
    const mounts = mountsDir({ [`tes-fs-0/in/${weird}`]: 'odd', 'tes-fs-1/': '' });
    const b = body(
      {
        executors: [{ image: 'exit-0', command: [], stdout: '/o/x-1.txt' }],
        inputs: [{ path: '/in/a', type: 'FILE', url: `file:///eng/work/in/${encodeURIComponent(weird)}` }],
        outputs: [
          {
            path: '/o/[x]-?.txt',
            path_prefix: '/o',
            type: 'FILE',
            url: `file:///eng/work/out/${encodeURIComponent(weird)}`,
          },
        ],
      },
      shares,
    );
    const r = runInBash(b, {
      env: { AZ_BATCH_NODE_MOUNTS_DIR: mounts },
      files: { 'tes/root/o/[x]-2.txt': 'literal', 'tes/root/o/x-22.txt': 'longer' },
    });
    try {
      expect(r.status, r.stderr).toBe(0);
      expect(r.read('tes/root/in/a')).toBe('odd');
      // '[x]' is a bracket expression: it matches 'x', not '[x]' itself; '?' one character.
      expect(readdirSync(join(mounts, 'tes-fs-0/out', weird))).toEqual(['x-1.txt']);
      expect(readdirSync(join(mounts, 'tes-fs-0/in'))).toEqual([weird]);
    } finally {
      for (const dir of [r.wd, r.logs, mounts]) rmSync(dir, { recursive: true, force: true });
    }
  });
});
