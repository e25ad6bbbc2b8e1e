/**
 * The emulator's shell features the TES wrapper relies on (dev/batch-emulator/shell.ts,
 * shell-parse.ts), each against what bash and coreutils do, and its `docker run`
 * (docker.ts, container-fs.ts) against what Docker does.
 */
import { describe, expect, it } from 'vitest';
import { NodeFs } from '../../../dev/batch-emulator/node-fs.js';
import { type DockerAccess, runScript } from '../../../dev/batch-emulator/shell.js';
import { parseCommandLine, parseScript } from '../../../dev/batch-emulator/shell-parse.js';

const WD = '/mnt/batch/tasks/workitems/j/job-1/t/wd';
const NOW = Date.UTC(2026, 2, 4, 5, 6, 7, 89);

function sh(script: string, options: { fs?: NodeFs; docker?: DockerAccess; stdin?: string } = {}) {
  const fs = options.fs ?? new NodeFs(0);
  fs.mkdirp(WD, 0);
  const parsed = parseScript(script);
  if (!parsed) throw new Error(`not parsed: ${script}`);
  const r = runScript(parsed, {
    fs,
    cwd: WD,
    env: { HOME: '/root' },
    now: NOW,
    ...(options.docker ? { docker: options.docker } : {}),
    ...(options.stdin !== undefined ? { stdin: Buffer.from(options.stdin) } : {}),
  });
  const read = (p: string) => {
    const e = fs.lookup(p.startsWith('/') ? p : `${WD}/${p}`);
    return e?.kind === 'file' ? e.data.toString() : undefined;
  };
  return { ...r, out: r.stdout.toString(), err: r.stderr.toString(), fs, read };
}

describe('grammar', () => {
  it('reads if/elif/else/fi, also inside && and || lists, and refuses what it does not run', () => {
    expect(sh('if false; then echo a; elif true; then echo b; else echo c; fi').out).toBe('b\n');
    expect(sh('if false\nthen echo a\nelse echo c\nfi').out).toBe('c\n');
    expect(sh('true || if true; then echo never; fi; echo after').out).toBe('after\n');
    expect(sh('false || if true; then echo ran; fi').out).toBe('ran\n');
    expect(sh('if false; then echo a; fi; echo $?').out).toBe('0\n');
    for (const bad of [
      'if true; then echo a',
      'if true; echo a; fi',
      'then echo',
      'fi',
      'if true; then fi',
      'if true; then :; fi >x',
    ])
      expect(parseScript(bad)).toBeUndefined();
  });

  it('set -e does not stop at a failing if condition, nor at a tested command', () => {
    expect(sh('set -e; if false; then :; fi; echo on').out).toBe('on\n');
    expect(sh('set -e; false || true; echo on; false; echo never').out).toBe('on\n');
  });

  it('substitutes $(…) unquoted and in double quotes, nested, with its status', () => {
    expect(sh('x=$(echo a b); echo "[$x]" [$(echo "c  d")]').out).toBe('[a b] [c d]\n');
    expect(sh('echo "$(echo "$(echo deep)")"').out).toBe('deep\n');
    expect(sh('x=$(false); echo $?; y=$(exit 3); echo $? "$y"').out).toBe('1\n3 \n');
    expect(sh('echo "$(printf_missing; echo ok)"').out).toBe('ok\n');
    expect(parseScript('echo $((1+2))')).toBeUndefined();
    expect(parseScript('echo $(echo (sub))')).toBeUndefined();
  });

  it('redirects stdin with <, and reads and writes /dev/null', () => {
    const fs = new NodeFs(0);
    fs.mkdirp(WD, 0);
    fs.writeFile(`${WD}/in.txt`, Buffer.from('from file\n'), 0);
    expect(sh('cat <in.txt; cat </dev/null; echo gone >/dev/null; echo kept', { fs }).out).toBe(
      'from file\nkept\n',
    );
    expect(sh('cat - ', { stdin: 'piped' }).out).toBe('piped');
    const missing = sh('cat <absent.txt; echo $?');
    expect(missing.out).toBe('2\n');
    expect(missing.err).toBe('sh: 1: cannot open absent.txt: No such file\n');
    expect(sh('ls /nowhere 2>/dev/null; echo $?').err).toBe('');
  });
});

describe('commands', () => {
  it('test and [ as coreutils', () => {
    const fs = new NodeFs(0);
    fs.mkdirp(`${WD}/d`, 0);
    fs.writeFile(`${WD}/f`, Buffer.from('x'), 0);
    fs.writeFile(`${WD}/empty`, Buffer.alloc(0), 0);
    const cases: [string, number][] = [
      ['[ -e f ]', 0],
      ['[ -f d ]', 1],
      ['[ -d d ]', 0],
      ['[ -s empty ]', 1],
      ['[ -s f ]', 0],
      ['[ -n "" ]', 1],
      ['[ -z "" ]', 0],
      ['[ a = a ]', 0],
      ['[ a != a ]', 1],
      ['[ 3 -eq 3 ]', 0],
      ['[ 3 -ne 3 ]', 1],
      ['[ 2 -lt 10 ]', 0],
      ['[ ! -e nope ]', 0],
      ['test x', 0],
      ['[ 1 -eq x ]', 2],
      ['[ -e f', 2],
    ];
    for (const [line, code] of cases) expect(sh(`${line}`, { fs }).exitCode, line).toBe(code);
  });

  it('date prints the simulated clock in UTC, GNU formats', () => {
    expect(sh('date -u +%Y-%m-%dT%H:%M:%S.%3NZ').out).toBe('2026-03-04T05:06:07.089Z\n');
    expect(sh('date -u +%FT%T').out).toBe('2026-03-04T05:06:07\n');
    expect(sh('sleep 2; date -u +%s').out).toBe(`${Math.floor(NOW / 1000) + 2}\n`);
    expect(sh('date -u').out).toBe('Wed Mar  4 05:06:07 UTC 2026\n');
  });

  it('find walks folders with -maxdepth, -type and -printf, and reports a missing start', () => {
    const fs = new NodeFs(0);
    fs.mkdirp(`${WD}/o/sub`, 0);
    fs.writeFile(`${WD}/o/a.txt`, Buffer.from('aaa'), 0);
    fs.writeFile(`${WD}/o/sub/b c.txt`, Buffer.from('bb'), 0);
    fs.writeFile(`${WD}/o/.h`, Buffer.from(''), 0);
    expect(sh("find o -type f -printf '%s %P\\n'", { fs }).out).toBe('0 .h\n3 a.txt\n2 sub/b c.txt\n');
    expect(sh('find o -maxdepth 1 -type f', { fs }).out).toBe('o/.h\no/a.txt\n');
    expect(sh("find o/a.txt -maxdepth 0 -type f -printf '[%P] %p %f\\n'", { fs }).out).toBe(
      '[] o/a.txt a.txt\n',
    );
    expect(sh('find o -type d -name "s*"', { fs }).out).toBe('o/sub\n');
    const missing = sh('find nope -type f; echo $?', { fs });
    expect(missing.out).toBe('1\n');
    expect(missing.err).toBe("find: 'nope': No such file or directory\n");
  });

  it('cp -R dir/. copies the contents into an existing folder, or makes it', () => {
    const fs = new NodeFs(0);
    fs.mkdirp(`${WD}/src/in`, 0);
    fs.writeFile(`${WD}/src/in/x`, Buffer.from('x'), 0);
    fs.mkdirp(`${WD}/dst`, 0);
    fs.writeFile(`${WD}/dst/keep`, Buffer.from('k'), 0);
    const r = sh('cp -R src/. dst && cp -R src/. fresh', { fs });
    expect(r.exitCode).toBe(0);
    expect([r.read('dst/keep'), r.read('dst/in/x'), r.read('fresh/in/x')]).toEqual(['k', 'x', 'x']);
  });
});

describe('docker run', () => {
  const node = () => {
    const fs = new NodeFs(0);
    fs.mkdirp(`${WD}/data`, 0);
    fs.writeFile(`${WD}/data/in.txt`, Buffer.from('input\n'), 0);
    fs.writeFile(
      `${WD}/tool.sh`,
      Buffer.from('#!/usr/bin/env bash\necho "tool $1" > /data/tool.out\nexit 5\n'),
      0,
      {
        mode: '0770',
      },
    );
    fs.writeFile(`${WD}/noexec.sh`, Buffer.from('#!/bin/sh\necho x\n'), 0, { mode: '0644' });
    return fs;
  };
  const v = `-v ${WD}/data:/data`;

  it('runs the command in the container view: binds reach the node, other paths stay in the container', () => {
    const fs = node();
    const r = sh(
      `docker run --rm ${v} -w /work -e 'MSG=hi there' alpine sh -c 'pwd; cat /data/in.txt; echo "$MSG" > /data/out.txt; echo secret > /etc/leak; mkdir -p /tmp/t; ls /'`,
      { fs, docker: 'allowed' },
    );
    expect(r.exitCode).toBe(0);
    expect(r.out.split('\n').slice(0, 2)).toEqual(['/work', 'input']);
    expect(r.out.split('\n').slice(2, -1)).toEqual(
      expect.arrayContaining(['data', 'etc', 'root', 'tmp', 'work']),
    );
    expect(r.read('data/out.txt')).toBe('hi there\n');
    // Nothing outside the binds reached the node, and a second container starts clean.
    expect(fs.lookup('/etc/leak')).toBeUndefined();
    expect(fs.lookup(`${WD}/etc/leak`)).toBeUndefined();
    expect(sh('docker run --rm alpine cat /etc/leak; echo $?', { fs, docker: 'allowed' }).out).toBe('1\n');
  });

  it('passes stdin only with -i, and returns the command’s exit code', () => {
    expect(sh('docker run -i alpine cat', { docker: 'allowed', stdin: 'in' }).out).toBe('in');
    expect(sh('docker run alpine cat', { docker: 'allowed', stdin: 'in' }).out).toBe('');
    expect(sh('docker run alpine sh -c "exit 7"; echo $?', { docker: 'allowed' }).out).toBe('7\n');
    expect(
      sh('docker run --rm -it alpine bash -eo pipefail -c "false; echo never"; echo $?', {
        docker: 'allowed',
      }).out,
    ).toBe('1\n');
    expect(
      sh('docker run -i alpine sh; echo $?', { docker: 'allowed', stdin: 'echo from-stdin; exit 4' }).out,
    ).toBe('from-stdin\n4\n');
  });

  it('runs a bound script by its shebang with its arguments; a missing one is 127, one not executable 126', () => {
    const fs = node();
    const bind = `-v ${WD}:/w -v ${WD}/data:/data`;
    expect(sh(`docker run ${bind} alpine /w/tool.sh arg; echo $?`, { fs, docker: 'allowed' }).out).toBe(
      '5\n',
    );
    expect(fs.readFile(`${WD}/data/tool.out`).toString()).toBe('tool arg\n');
    const missing = sh(`docker run ${bind} alpine /w/absent.sh; echo $?`, { fs, docker: 'allowed' });
    expect(missing.out).toBe('127\n');
    expect(missing.err).toMatch(/exec: "\/w\/absent.sh": stat \/w\/absent.sh: no such file or directory/);
    expect(sh(`docker run ${bind} alpine /w/noexec.sh; echo $?`, { fs, docker: 'allowed' }).out).toBe(
      '126\n',
    );
    expect(sh(`docker run ${bind} alpine sh /w/noexec.sh`, { fs, docker: 'allowed' }).out).toBe('x\n');
    // A program of the image (not under a bind) cannot be told missing: it runs, or does nothing.
    expect(sh('docker run alpine /usr/bin/python3 x.py; echo $?', { docker: 'allowed' }).out).toBe('0\n');
  });

  it('keeps a read-only bind read-only', () => {
    const fs = node();
    const r = sh(
      `docker run -v ${WD}/data:/data:ro alpine sh -c 'cat /data/in.txt; echo x > /data/new'; echo $?`,
      {
        fs,
        docker: 'allowed',
      },
    );
    expect(r.out).toBe('input\n2\n');
    expect(r.err).toBe('sh: 1: cannot create /data/new: Read-only file system\n');
  });

  it('fails as the Docker CLI does: 125 for its own errors, 127 without Docker, 125 without access to its daemon', () => {
    const unknown = sh('docker run --bogus alpine true; echo $?', { docker: 'allowed' });
    expect(unknown.out).toBe('125\n');
    expect(unknown.err).toMatch(/^docker: unknown flag: --bogus/);
    expect(sh('docker run; echo $?', { docker: 'allowed' }).out).toBe('125\n');
    expect(sh('docker run -w rel alpine true; echo $?', { docker: 'allowed' }).out).toBe('125\n');
    expect(sh('docker run -v /x:/ alpine true; echo $?', { docker: 'allowed' }).out).toBe('125\n');
    expect(sh('docker version >/dev/null 2>&1; echo $?', { docker: 'allowed' }).out).toBe('0\n');
    const absent = sh('docker run alpine true; echo $?');
    expect(absent.out).toBe('127\n');
    expect(absent.err).toBe('sh: 1: docker: not found\n');
    expect(sh('docker version; echo $?', { docker: 'denied' }).out).toBe('125\n');
  });

  it('runs the wrapper’s own command line shape (bash -c with a quoted script)', () => {
    const script = parseCommandLine(
      `/bin/bash -c 'if [ -d /x ]; then echo no; else echo "$(date -u +%Y)"; fi'`,
    );
    expect(script).toBeDefined();
  });
});
