/**
 * Azure Files mounts backed by host directories: the `fileShares` start option and the
 * `/_emulator/file-shares` control map `https://<account>.file.core.windows.net/<share>` to a directory
 * of this machine; every node of a pool mounting the share reads and writes its real files under
 * AZ_BATCH_NODE_MOUNTS_DIR (tasks, start tasks, `docker run` binds), never outside it. Without a
 * mapping a mount stays the emulator's in-memory directory.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchEmulator, FileShareError, startBatchEmulator } from '../../dev/batch-emulator/index.js';
import { ACCOUNT, advance, call, control, KEY, poolBody, until } from './helpers.js';

const DOCKER_IMAGE = { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' };
const ADMIN = { autoUser: { scope: 'pool', elevationLevel: 'admin' } };

let emulator: BatchEmulator;
/** Everything the tests make on the host, removed at the end. */
let scratch: string;
/** The directory behind `files/share` (the start option). */
let shareDir: string;
/** Where nothing may ever be written: the share directory's parent's other child. */
let outside: string;

const fileUrl = (share: string) => `https://files.file.core.windows.net/${share}`;

function mount(share: string, relativeMountPath = 'share') {
  return {
    azureFileShareConfiguration: {
      accountName: 'files',
      azureFileUrl: fileUrl(share),
      accountKey: 'a2V5',
      relativeMountPath,
      mountOptions: '-o vers=3.0,dir_mode=0777,file_mode=0777',
    },
  };
}

interface TaskView {
  state: string;
  executionInfo?: { exitCode?: number; result?: string };
  nodeInfo?: { nodeId: string };
}

async function nodeIds(poolId: string): Promise<string[]> {
  const r = await until(
    async () => {
      await advance(emulator, 10);
      return (await call(emulator, 'GET', `/pools/${poolId}/nodes`)).json as {
        value: { id: string; state: string }[];
      };
    },
    (v) => v.value.length > 0 && v.value.every((n) => n.state === 'idle'),
  );
  return r.value.map((n) => n.id);
}

async function makePool(id: string, nodes: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const created = await call(
    emulator,
    'POST',
    '/pools',
    poolBody(id, { targetDedicatedNodes: nodes, mountConfiguration: [mount('share')], ...extra }),
  );
  expect(created.status).toBe(201);
  const ids = await nodeIds(id);
  expect(ids).toHaveLength(nodes);
  const job = await call(emulator, 'POST', '/jobs', { id: `${id}-job`, poolInfo: { poolId: id } });
  expect(job.status).toBe(201);
  return ids;
}

/** Adds a task (its command runs when it starts), lets it end and returns it with its stdout and stderr. */
async function runTask(jobId: string, id: string, commandLine: string, extra: Record<string, unknown> = {}) {
  const added = await call(emulator, 'POST', `/jobs/${jobId}/tasks`, { id, commandLine, ...extra });
  expect(added.status).toBe(201);
  const task = await until(
    async () => {
      await advance(emulator, 1);
      return (await call(emulator, 'GET', `/jobs/${jobId}/tasks/${id}`)).json as TaskView;
    },
    (t) => t.state === 'completed',
  );
  const file = async (name: string) =>
    (await call(emulator, 'GET', `/jobs/${jobId}/tasks/${id}/files/${name}`)).raw;
  return { task, stdout: await file('stdout.txt'), stderr: await file('stderr.txt') };
}

const bash = (script: string) => `/bin/bash -c '${script}'`;
const M = '$AZ_BATCH_NODE_MOUNTS_DIR/share';

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'emulator-shares-'));
  shareDir = join(scratch, 'share');
  outside = join(scratch, 'outside');
  mkdirSync(shareDir);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'not for tasks\n');
  emulator = await startBatchEmulator({
    port: 0,
    accountName: ACCOUNT,
    accountKey: KEY,
    clockFactor: 0,
    allocationSeconds: 30,
    nodeStartSeconds: 5,
    fileShares: [{ accountName: 'files', shareName: 'share', hostPath: shareDir }],
  });
});

afterAll(async () => {
  await emulator?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the file-shares control', () => {
  it('lists the start option, maps a share idempotently, refuses bad mappings with 400, ends one', async () => {
    expect((await control(emulator, 'GET', 'file-shares')).json).toEqual({
      fileShares: [{ accountName: 'files', shareName: 'share', hostPath: shareDir }],
    });
    const extra = join(scratch, 'extra');
    mkdirSync(extra);
    const mapping = { accountName: 'Files', shareName: 'extra-1', hostPath: extra };
    expect((await control(emulator, 'POST', 'file-shares', mapping)).status).toBe(204);
    expect((await control(emulator, 'POST', 'file-shares', mapping)).status).toBe(204);
    expect((await control(emulator, 'GET', 'file-shares')).json?.fileShares).toEqual([
      { accountName: 'files', shareName: 'share', hostPath: shareDir },
      { accountName: 'files', shareName: 'extra-1', hostPath: extra },
    ]);
    const file = join(scratch, 'a-file');
    writeFileSync(file, '');
    for (const [body, says] of [
      [{ ...mapping, accountName: 'no_underscores' }, 'accountName'],
      [{ ...mapping, accountName: 'ab' }, 'accountName'],
      [{ ...mapping, shareName: 'two--hyphens' }, 'shareName'],
      [{ ...mapping, shareName: '-edge' }, 'shareName'],
      [{ ...mapping, hostPath: 'relative/dir' }, 'hostPath'],
      [{ ...mapping, hostPath: join(scratch, 'missing') }, 'does not exist'],
      [{ ...mapping, hostPath: file }, 'is not a directory'],
      [{ accountName: 'files', shareName: 'extra-1' }, 'hostPath'],
      [{ ...mapping, readOnly: true }, 'readOnly'],
    ] as const) {
      const r = await control(emulator, 'POST', 'file-shares', body);
      expect([r.status, String(r.json?.error)]).toEqual([400, expect.stringContaining(says)]);
    }
    const notJson = await fetch(`${emulator.url}/_emulator/file-shares`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    expect((await control(emulator, 'DELETE', 'file-shares/files/extra-1')).status).toBe(204);
    expect((await control(emulator, 'DELETE', 'file-shares/files/extra-1')).status).toBe(404);
    expect((await control(emulator, 'GET', 'file-shares')).json?.fileShares).toHaveLength(1);
  });

  it('refuses a bad start option before listening', async () => {
    await expect(
      startBatchEmulator({
        port: 0,
        accountName: ACCOUNT,
        accountKey: KEY,
        fileShares: [{ accountName: 'files', shareName: 'share', hostPath: join(scratch, 'nowhere') }],
      }),
    ).rejects.toThrow(FileShareError);
  });
});

describe('a mapped Azure Files mount', () => {
  let nodes: string[];

  beforeAll(async () => {
    nodes = await makePool('fs', 2, {
      virtualMachineConfiguration: {
        imageReference: DOCKER_IMAGE,
        // Docker is on the node (the image lists DockerCompatible); tasks run on the node itself.
        nodeAgentSKUId: 'batch.node.ubuntu 22.04',
      },
      startTask: {
        commandLine: bash(`mkdir -p ${M}/started && echo up > ${M}/started/$AZ_BATCH_NODE_ID.txt`),
        waitForSuccess: true,
      },
    });
  });

  it('start tasks of every node wrote into the host directory', () => {
    expect(readdirSync(join(shareDir, 'started')).sort()).toEqual(nodes.map((n) => `${n}.txt`).sort());
    expect(readFileSync(join(shareDir, 'started', `${nodes[0]}.txt`), 'utf8')).toBe('up\n');
  });

  it('a task writes real files (mkdir -p, >, >>, touch) and reads, lists and sizes the host files', async () => {
    mkdirSync(join(shareDir, 'in', 'deep'), { recursive: true });
    writeFileSync(join(shareDir, 'in', 'hello.txt'), 'from the host\n');
    writeFileSync(join(shareDir, 'in', 'deep', 'z.bin'), Buffer.alloc(1234, 7));
    const { task, stdout, stderr } = await runTask(
      'fs-job',
      'writer',
      bash(
        [
          `mkdir -p ${M}/a`,
          `echo x > ${M}/a/b.txt`,
          `echo y >> ${M}/a/b.txt`,
          `cat ${M}/in/hello.txt`,
          `ls ${M}/in`,
          `find ${M}/in -type f -printf "%s %P\\n"`,
          `test -f ${M}/a/b.txt && echo file`,
          `test -d ${M}/a && echo dir`,
          `test -e ${M}/a/none || echo none`,
          `touch ${M}/a/stamp`,
          `mv ${M}/a/b.txt ${M}/a/moved.txt`,
          `rm -rf ${M}/in/deep`,
        ].join('; '),
      ),
    );
    expect(stderr).toBe('');
    expect(task.executionInfo?.exitCode).toBe(0);
    expect(stdout).toBe('from the host\ndeep\nhello.txt\n1234 deep/z.bin\n14 hello.txt\nfile\ndir\nnone\n');
    expect(readFileSync(join(shareDir, 'a', 'moved.txt'), 'utf8')).toBe('x\ny\n');
    expect(existsSync(join(shareDir, 'a', 'b.txt'))).toBe(false);
    expect(existsSync(join(shareDir, 'in', 'deep'))).toBe(false);
    // File times are the node's, the simulated clock's.
    const clock = (await control(emulator, 'GET', 'clock')).json as { now: string };
    expect(Math.abs(statSync(join(shareDir, 'a', 'stamp')).mtimeMs - Date.parse(clock.now))).toBeLessThan(
      2000,
    );
    // The node files API reads the mount as the node sees it.
    const viaApi = await call(
      emulator,
      'GET',
      `/pools/fs/nodes/${task.nodeInfo!.nodeId}/files/fsmounts/share/a/moved.txt`,
    );
    expect([viaApi.status, viaApi.raw, viaApi.headers.get('content-length')]).toEqual([200, 'x\ny\n', '4']);
  });

  it('a file one node writes, a task on the other node reads (one share for all nodes)', async () => {
    // The writer holds its node's one slot, so the reader starts on the other node.
    const writer = await call(emulator, 'POST', '/jobs/fs-job/tasks', {
      id: 'hold',
      commandLine: bash(`echo "from $AZ_BATCH_NODE_ID" > ${M}/note.txt; sleep 600`),
    });
    expect(writer.status).toBe(201);
    await until(
      async () => (await call(emulator, 'GET', '/jobs/fs-job/tasks/hold')).json as TaskView,
      (t) => t.state === 'running',
    );
    const { task, stdout } = await runTask('fs-job', 'reader', bash(`cat ${M}/note.txt`));
    const held = (await call(emulator, 'GET', '/jobs/fs-job/tasks/hold')).json as TaskView;
    expect(task.nodeInfo!.nodeId).not.toBe(held.nodeInfo!.nodeId);
    expect(stdout).toBe(`from ${held.nodeInfo!.nodeId}\n`);
    expect(readFileSync(join(shareDir, 'note.txt'), 'utf8')).toBe(stdout);
    await advance(emulator, 700);
  });

  it('cp -r copies out of the mount and into it, `src/.` as the contents', async () => {
    mkdirSync(join(shareDir, 'src', 'sub'), { recursive: true });
    writeFileSync(join(shareDir, 'src', 'one.txt'), '1');
    writeFileSync(join(shareDir, 'src', 'sub', 'two.txt'), '22');
    const { task, stdout, stderr } = await runTask(
      'fs-job',
      'copier',
      bash(
        [
          'mkdir -p local/made',
          'echo made > local/made/m.txt',
          `cp -r ${M}/src out`,
          `mkdir -p contents && cp -r ${M}/src/. contents`,
          `cp -r local/made ${M}/copied`,
          `mkdir -p ${M}/merged && cp -r local/. ${M}/merged`,
          `cp ${M}/src/one.txt ${M}/src/one-again.txt`,
          'find out contents -type f -printf "%s %p\\n"',
        ].join(' && '),
      ),
    );
    expect([stderr, task.executionInfo?.exitCode]).toEqual(['', 0]);
    expect(stdout).toBe('1 out/one.txt\n2 out/sub/two.txt\n1 contents/one.txt\n2 contents/sub/two.txt\n');
    expect(readFileSync(join(shareDir, 'copied', 'm.txt'), 'utf8')).toBe('made\n');
    expect(readFileSync(join(shareDir, 'merged', 'made', 'm.txt'), 'utf8')).toBe('made\n');
    expect(readFileSync(join(shareDir, 'src', 'one-again.txt'), 'utf8')).toBe('1');
  });

  it('docker run -v binds into the mount read and write the host files', async () => {
    writeFileSync(join(shareDir, 'input.txt'), 'for the container\n');
    const { task, stdout, stderr } = await runTask(
      'fs-job',
      'container',
      bash(
        `docker run --rm -v ${M}:/data -w /data ubuntu:22.04 sh -c "cat /data/input.txt; mkdir -p /data/res && echo done > /data/res/out.txt && ls /data/res"`,
      ),
      { userIdentity: ADMIN },
    );
    expect([stderr, task.executionInfo?.exitCode]).toEqual(['', 0]);
    expect(stdout).toBe('for the container\nout.txt\n');
    expect(readFileSync(join(shareDir, 'res', 'out.txt'), 'utf8')).toBe('done\n');
  });

  it('paths stay inside the host directory: .. stops at the node, links leading outside are refused', async () => {
    symlinkSync(outside, join(shareDir, 'escape'));
    symlinkSync(join(outside, 'secret.txt'), join(shareDir, 'secret-link'));
    symlinkSync(join(outside, 'made-by-link.txt'), join(shareDir, 'dangling'));
    mkdirSync(join(shareDir, 'inner'));
    symlinkSync(join(shareDir, 'inner'), join(shareDir, 'inner-link'));
    const { stdout, stderr } = await runTask(
      'fs-job',
      'escaper',
      bash(
        [
          `echo up > ${M}/../../escaped.txt`,
          `echo deep > ${M}/../../../../../../../${outside.slice(1)}/dotdot.txt`,
          `cat ${M}/escape/secret.txt`,
          `cat ${M}/secret-link`,
          `echo w > ${M}/escape/new.txt`,
          `echo w > ${M}/dangling`,
          `echo w > ${M}/secret-link`,
          `ls ${M}`,
          `echo inside > ${M}/inner-link/ok.txt`,
          `docker run --rm -v ${M}/escape:/x ubuntu sh -c "cat /x/secret.txt"`,
        ].join('; '),
      ),
      { userIdentity: ADMIN },
    );
    // Nothing outside the share changed or was read.
    expect(readdirSync(outside).sort()).toEqual(['secret.txt']);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('not for tasks\n');
    expect(readdirSync(scratch).sort()).not.toContain('escaped.txt');
    expect(stdout).not.toContain('not for tasks');
    expect(stderr).toContain('Permission denied');
    // `..` resolved on the node's own disk, never on the host; links inside the share work.
    expect(readFileSync(join(shareDir, 'inner', 'ok.txt'), 'utf8')).toBe('inside\n');
    expect(stdout.split('\n')).not.toContain('escape');
    expect(stdout.split('\n')).toContain('inner-link');
  });
});

describe('without a mapping', () => {
  it('a mount is the emulator’s in-memory directory, as before, shared by the pool’s nodes', async () => {
    const before = readdirSync(shareDir).sort();
    const created = await call(
      emulator,
      'POST',
      '/pools',
      poolBody('mem', { targetDedicatedNodes: 2, mountConfiguration: [mount('unmapped')] }),
    );
    expect(created.status).toBe(201);
    const ids = await nodeIds('mem');
    await call(emulator, 'POST', '/jobs', { id: 'mem-job', poolInfo: { poolId: 'mem' } });
    const { task } = await runTask('mem-job', 'w', bash(`echo memory > ${M}/only-here.txt`));
    expect(task.executionInfo?.exitCode).toBe(0);
    expect(readdirSync(shareDir).sort()).toEqual(before);
    const other = ids.find((n) => n !== task.nodeInfo!.nodeId)!;
    const seen = await call(emulator, 'GET', `/pools/mem/nodes/${other}/files/fsmounts/share/only-here.txt`);
    expect([seen.status, seen.raw]).toEqual([200, 'memory\n']);
  });

  it('a share mapped later is seen at once by the nodes already mounting it; unmapped, memory again', async () => {
    const late = join(scratch, 'late');
    mkdirSync(late);
    writeFileSync(join(late, 'there.txt'), 'late\n');
    expect(
      (
        await control(emulator, 'POST', 'file-shares', {
          accountName: 'files',
          shareName: 'unmapped',
          hostPath: late,
        })
      ).status,
    ).toBe(204);
    const { stdout } = await runTask('mem-job', 'r', bash(`ls ${M}; echo new > ${M}/new.txt`));
    expect(stdout).toBe('there.txt\n');
    expect(readFileSync(join(late, 'new.txt'), 'utf8')).toBe('new\n');
    expect((await control(emulator, 'DELETE', 'file-shares/files/unmapped')).status).toBe(204);
    const after = await runTask('mem-job', 'r2', bash(`ls ${M}`));
    expect(after.stdout).toBe('only-here.txt\n');
  });
});

describe('npm run emulator (the built main.js)', () => {
  const main = fileURLToPath(new URL('../../dist/dev/batch-emulator/main.js', import.meta.url));

  /** Runs main.js with BATCH_EMULATOR_FILE_SHARES: its URL once ready, or how it exited. */
  function launch(shares: string) {
    if (!existsSync(main))
      throw new Error(`${main} is missing: run \`npm run build\` first (npm test does).`);
    const child = spawn(process.execPath, [main, '--port', '0'], {
      env: { PATH: process.env.PATH, BATCH_EMULATOR_FILE_SHARES: shares },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
      child.once('exit', (code) => resolve({ code, stderr })),
    );
    const ready = new Promise<string | undefined>((resolve) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /ready at (http:\/\/127\.0\.0\.1:\d+) /.exec(out);
        if (m) resolve(m[1]);
      });
      void exited.then(() => resolve(undefined));
    });
    return { child, ready, exited };
  }

  it('maps the shares BATCH_EMULATOR_FILE_SHARES names', async () => {
    const run = launch(JSON.stringify([{ accountName: 'files', shareName: 'share', hostPath: shareDir }]));
    try {
      const url = await run.ready;
      expect(url).toBeDefined();
      const listed = (await (await fetch(`${url}/_emulator/file-shares`)).json()) as unknown;
      expect(listed).toEqual({
        fileShares: [{ accountName: 'files', shareName: 'share', hostPath: shareDir }],
      });
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });

  it('exits 2 with a message for a value that is not JSON, a bad name or a missing directory', async () => {
    for (const [shares, says] of [
      ['[{', 'not JSON'],
      [JSON.stringify({ accountName: 'files' }), 'JSON array'],
      [JSON.stringify([{ accountName: 'f', shareName: 'share', hostPath: shareDir }]), 'accountName'],
      [
        JSON.stringify([{ accountName: 'files', shareName: 'share', hostPath: join(scratch, 'gone') }]),
        'does not exist',
      ],
    ] as const) {
      const run = launch(shares);
      expect(await run.ready).toBeUndefined();
      const { code, stderr } = await run.exited;
      expect([code, stderr]).toEqual([2, expect.stringContaining(says)]);
      expect(stderr).toContain('BATCH_EMULATOR_FILE_SHARES');
    }
  });
});
