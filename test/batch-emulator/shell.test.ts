/**
 * The emulator's command interpreter on its own: the `sh -c` wrappers, the command vocabulary over an
 * in-memory node disk, and the fallback to the old reading of lines it cannot parse. Also the
 * output-file wildcards and blob names as Batch's OutputFile describes them.
 */
import { describe, expect, it } from 'vitest';
import { commandBehaviour } from '../../dev/batch-emulator/command.js';
import { glob } from '../../dev/batch-emulator/glob.js';
import { NodeFs } from '../../dev/batch-emulator/node-fs.js';
import { runScript } from '../../dev/batch-emulator/shell.js';
import { parseCommandLine } from '../../dev/batch-emulator/shell-parse.js';
import { planUploads } from '../../dev/batch-emulator/task-files.js';

const WD = '/mnt/batch/tasks/workitems/j/job-1/t/wd';

function sh(line: string, env: Record<string, string> = {}, fs = new NodeFs(0)) {
  fs.mkdirp(WD, 0);
  const script = parseCommandLine(line);
  if (!script) throw new Error(`not parsed: ${line}`);
  const r = runScript(script, { fs, cwd: WD, env, now: 1000 });
  return { ...r, out: r.stdout.toString(), err: r.stderr.toString(), fs };
}

const read = (fs: NodeFs, path: string) =>
  fs.readFile(path.startsWith('/') ? path : `${WD}/${path}`).toString();

describe('command lines', () => {
  it('reads the script inside /bin/sh -c and /bin/bash -c, quoted either way, and bare lines', () => {
    expect(sh("/bin/sh -c 'echo one; exit 4'")).toMatchObject({ out: 'one\n', exitCode: 4 });
    expect(sh('/bin/bash -c "echo two && sleep 2"')).toMatchObject({ out: 'two\n', durationMs: 2000 });
    expect(sh('bash -ec "false; echo never"')).toMatchObject({ out: '', exitCode: 1 });
    expect(sh('/usr/bin/env bash -c "echo env"').out).toBe('env\n');
    expect(sh('echo bare > b.txt').fs.readFile(`${WD}/b.txt`).toString()).toBe('bare\n');
    expect(sh('cmd /c echo windows').out).toBe('windows\n');
  });

  it('falls back to the old reading (sleep N, exit K anywhere) for what it cannot parse', () => {
    for (const line of [
      'cat a | grep b; sleep 5; exit 2',
      'while true; do sleep 5; done; exit 2',
      'echo `date` sleep 5 exit 2',
    ])
      expect(parseCommandLine(line)).toBeUndefined();
    expect(commandBehaviour('cat a | grep b; sleep 5; exit 2')).toEqual({ durationMs: 5000, exitCode: 2 });
  });

  it('keeps the plain command lines tests have always used', () => {
    expect(sh('sleep 100')).toMatchObject({ durationMs: 100_000, exitCode: 0 });
    expect(sh('sleep 2.5; exit 9')).toMatchObject({ durationMs: 2500, exitCode: 9 });
    expect(sh('sleep 1 && exit 1')).toMatchObject({ durationMs: 1000, exitCode: 1 });
    expect(sh('exit 0 # 17')).toMatchObject({ exitCode: 0 });
    expect(sh('render --frame 3 --out /mnt/out/3.png')).toMatchObject({
      durationMs: 0,
      exitCode: 0,
      out: '',
    });
  });
});

describe('the command vocabulary', () => {
  it('echo writes to stdout, > truncates, >> appends, 2> and >&2 reach stderr', () => {
    const r = sh(
      'echo a > f.txt; echo b >> f.txt; echo c; echo oops >&2; echo warn 2> e.txt 1>&2; echo -n x',
    );
    expect(read(r.fs, 'f.txt')).toBe('a\nb\n');
    expect(r.out).toBe('c\nx');
    expect(r.err).toBe('oops\n');
    expect(read(r.fs, 'e.txt')).toBe('warn\n');
  });

  it('cat concatenates, and a missing file is a message on stderr and exit 1', () => {
    const fs = new NodeFs(0);
    fs.mkdirp(WD, 0);
    fs.writeFile(`${WD}/a`, Buffer.from('A'), 0);
    fs.writeFile(`${WD}/b`, Buffer.from('B'), 0);
    expect(sh('cat a b > ab; cat ab', {}, fs)).toMatchObject({ out: 'AB', exitCode: 0 });
    expect(sh('cat a nope', {}, fs)).toMatchObject({
      out: 'A',
      err: 'cat: nope: No such file or directory\n',
      exitCode: 1,
    });
  });

  it('cp, mkdir -p, ls and relative paths from the working directory', () => {
    const r = sh(
      'mkdir -p out/deep && echo hi > in.txt && cp in.txt out/deep/ && cp in.txt out/copy.txt && ls out && ls out/deep',
    );
    expect(r.exitCode).toBe(0);
    expect(r.out).toBe('copy.txt\ndeep\nin.txt\n');
    expect(read(r.fs, 'out/copy.txt')).toBe('hi\n');
    expect(sh('cp nope x')).toMatchObject({
      exitCode: 1,
      err: "cp: cannot stat 'nope': No such file or directory\n",
    });
    expect(sh('mkdir a/b')).toMatchObject({ exitCode: 1 });
    expect(sh('echo x > missing/f.txt')).toMatchObject({
      exitCode: 2,
      err: 'sh: 1: cannot create missing/f.txt: Directory nonexistent\n',
    });
    expect(sh('ls nope').exitCode).toBe(2);
  });

  it('&&, || and ; follow the exit status; true, false and exit K', () => {
    expect(sh('false && echo no || echo yes; true && echo also').out).toBe('yes\nalso\n');
    expect(sh('false; echo $?').out).toBe('1\n');
    expect(sh('exit 300').exitCode).toBe(44);
    expect(sh('echo before; exit 5; echo after')).toMatchObject({ out: 'before\n', exitCode: 5 });
  });

  it('expands $VAR and the braced form (not inside single quotes) and keeps quoted blanks', () => {
    const env = { AZ_BATCH_TASK_ID: 't-7', GREETING: 'hello  world' };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax under test
    expect(sh("echo $AZ_BATCH_TASK_ID ${AZ_BATCH_TASK_ID}x '$AZ_BATCH_TASK_ID'", env).out).toBe(
      't-7 t-7x $AZ_BATCH_TASK_ID\n',
    );
    expect(sh('echo "$GREETING"; echo $GREETING', env).out).toBe('hello  world\nhello world\n');
    expect(sh('NAME=v; export OTHER=w; echo $NAME$OTHER $UNSET.').out).toBe('vw .\n');
  });

  it('sums sleeps for the duration, and refuses a bad interval as sleep does', () => {
    expect(sh('sleep 1; sleep 2m; sleep 0.5').durationMs).toBe(121_500);
    expect(sh('sleep soon')).toMatchObject({ exitCode: 1, err: "sleep: invalid time interval 'soon'\n" });
  });

  it('globs unquoted wildcards against the disk, leaving a pattern without matches as written', () => {
    const r = sh(
      'mkdir -p d && echo 1 > d/a.txt && echo 2 > d/b.txt && echo 3 > d/c.log && cat d/*.txt; echo d/*.csv "d/*.txt"',
    );
    expect(r.out).toBe('1\n2\nd/*.csv d/*.txt\n');
  });

  it('runs unknown commands as a success that does nothing', () => {
    expect(sh('python train.py --epochs 3 > log.txt && echo done')).toMatchObject({
      out: 'done\n',
      exitCode: 0,
    });
  });
});

describe('output file patterns and blob names', () => {
  const fs = new NodeFs(0);
  fs.mkdirp(`${WD}/out/sub`, 0);
  for (const p of ['out/a.txt', 'out/b.txt', 'out/.hidden.txt', 'out/sub/c.txt', 'out/z.log', 'top.txt'])
    fs.writeFile(`${WD}/${p}`, Buffer.from(p), 0);
  fs.writeFile('/mnt/batch/tasks/workitems/j/job-1/t/stdout.txt', Buffer.from('log'), 0);
  const names = (pattern: string) => glob(fs, WD, pattern, true).map((m) => m.relative);

  it('matches *, ?, [..], ** and ../, and leaves dot files to patterns that name them', () => {
    expect(names('out/*.txt')).toEqual(['a.txt', 'b.txt']);
    expect(names('out/**/*.txt')).toEqual(['a.txt', 'b.txt', 'sub/c.txt']);
    expect(names('out/[ab].txt')).toEqual(['a.txt', 'b.txt']);
    expect(names('out/[!a]?txt')).toEqual(['b.txt']);
    expect(names('out/.*.txt')).toEqual(['.hidden.txt']);
    expect(names('../std*.txt')).toEqual(['stdout.txt']);
    expect(names('top.txt')).toEqual(['top.txt']);
    expect(names('nothing*')).toEqual([]);
  });

  it('names blobs: path is the blob without wildcards, a virtual directory with them', () => {
    const container = 'http://127.0.0.1:1/acct/c?sv=x&sig=y';
    const upload = (filePattern: string, path?: string) =>
      planUploads(fs, WD, { OUT: 'out' }, [
        { filePattern, destination: { container: { containerUrl: container, ...(path ? { path } : {}) } } },
      ]).map((u) => u.blobName);
    expect(upload('out/a.txt', 'results/first.txt')).toEqual(['results/first.txt']);
    expect(upload('out/a.txt')).toEqual(['a.txt']);
    expect(upload('$OUT/**/*.txt', 'r/t1')).toEqual(['r/t1/a.txt', 'r/t1/b.txt', 'r/t1/sub/c.txt']);
    expect(upload('../std*.txt', '$TaskLog')).toEqual(['$TaskLog/stdout.txt']);
    expect(upload('out/*.txt')).toEqual(['a.txt', 'b.txt']);
  });
});
