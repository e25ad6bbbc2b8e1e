/**
 * Runs a task's script (shell-parse.ts) against its node's in-memory disk, at once: the command's
 * files appear when it starts, and its simulated duration is the sum of its `sleep`s.
 *
 * Commands: `echo [-n] …`, `cat [f…]` (stdin without operands), `cp [-r] src… dst` (`src/.` copies
 * the directory's contents), `mv src… dst`, `mkdir [-p] d…`, `rm [-rf] p…`, `ls [-a] [p…]`,
 * `touch f…`, `cd d`, `pwd`, `true`, `:`, `false`, `sleep N[smhd]…`, `exit [K]`, `set [-e|+e]`,
 * `export NAME=value…`, `NAME=value`, `test`/`[ … ]` (`-e -f -d -s -n -z`, `= !=`, `-eq -ne -lt -le
 * -gt -ge`, `!`), `date [-u] [+FORMAT]` (the simulated clock, UTC), `find path… [-mindepth N]
 * [-maxdepth N] [-type f|d] [-name PATTERN] [-print|-printf FORMAT]` (`%s %p %P %f %%`, `\n \t \\ \0`),
 * and `docker run …` (docker.ts) where the node has Docker. Redirects to and from `/dev/null` discard
 * and read nothing. Messages and exit codes follow GNU coreutils, findutils and dash (`/bin/sh` on
 * Ubuntu). Any other command does nothing and succeeds (exit 0), so command lines written for real
 * programs (`python train.py`) still run.
 *
 * `docker run` (Docker's `docker run` reference): the command runs in the container's view of the
 * node's disk (container-fs.ts: binds show the node's files, every other path is the container's
 * own and is thrown away), with the container's environment (`-e`, PATH, HOME), its working
 * directory (`-w`, default `/`) and, with `-i`, the command's stdin. `sh`/`bash`/`dash` with `-c`, a
 * script file or stdin run their script with this shell; a program of this vocabulary runs as that
 * command; a path under a bind must exist (else exit 127, as Docker reports a missing executable)
 * and be executable (else 126), and runs as a script when it starts with a `#!` naming a shell; any
 * other program does nothing and exits 0. The image is not pulled and may be anything. The CLI's own
 * failures (an unknown option, a bad bind) exit 125. Without Docker on the node `docker` is not
 * found (127); a run as a non-admin user cannot reach the Docker daemon's socket (125).
 */
import { commandBehaviour } from './command.js';
import { type Bind, ContainerFs } from './container-fs.js';
import { DOCKER_ERROR_EXIT, type DockerRun, parseDocker } from './docker.js';
import { glob, hasWildcard, segmentRegExp } from './glob.js';
import { baseName, type DirEntry, type Disk, type Entry, FsError, fileSize, resolvePath } from './node-fs.js';
import type { AndOr, Command, IfCommand, Redirect, Script, SimpleCommand, Word } from './shell-parse.js';
import { parseScript } from './shell-parse.js';

/** Whether a run may use Docker: it is on the node and the user may reach its socket (admin). */
export type DockerAccess = 'allowed' | 'denied';

export interface ShellRun {
  readonly fs: Disk;
  /** Absolute working directory. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Simulated time the command starts (file times). */
  readonly now: number;
  /** What the script reads on stdin (nothing when absent). */
  readonly stdin?: Buffer;
  /** `$0`, `$1`, …: the script's name and arguments. */
  readonly positional?: readonly string[];
  /** Absent: Docker is not installed where this runs. */
  readonly docker?: DockerAccess;
}

export interface ShellResult {
  readonly durationMs: number;
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

type Sink =
  | { readonly kind: 'out' }
  | { readonly kind: 'err' }
  | { readonly kind: 'null' }
  | { readonly kind: 'file'; readonly path: string };

const STDOUT: Sink = { kind: 'out' };
const STDERR: Sink = { kind: 'err' };
const NULL_SINK: Sink = { kind: 'null' };
const DEV_NULL = '/dev/null';
const EMPTY = Buffer.alloc(0);
const SHELLS = new Set(['sh', 'bash', 'dash']);
const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

class Exit extends Error {
  constructor(readonly code: number) {
    super('exit');
  }
}

const SLEEP_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };

function fsMessage(e: unknown): string {
  if (!(e instanceof FsError)) throw e;
  return e.reason === 'ENOENT'
    ? 'No such file or directory'
    : e.reason === 'ENOTDIR'
      ? 'Not a directory'
      : e.reason === 'EISDIR'
        ? 'Is a directory'
        : e.reason === 'EROFS'
          ? 'Read-only file system'
          : e.reason === 'EACCES'
            ? 'Permission denied'
            : e.reason === 'EIO'
              ? 'Input/output error'
              : 'File exists';
}

function flagsAndOperands(args: readonly string[]): [Set<string>, string[]] {
  const flags = new Set<string>();
  const operands: string[] = [];
  let done = false;
  for (const a of args) {
    if (!done && a === '--') done = true;
    else if (!done && /^-[A-Za-z0-9]+$/.test(a)) for (const f of a.slice(1)) flags.add(f);
    else operands.push(a);
  }
  return [flags, operands];
}

const escapeGlob = (s: string) => s.replace(/[*?[]/g, (c) => `[${c}]`);

/** One run of a script: its variables, working directory, descriptors, output and duration. */
class Shell {
  readonly vars = new Map<string, string>();
  cwd: string;
  status = 0;
  durationMs = 0;
  errexit: boolean;
  /** Inside an `if` condition (or a tested part of one): `set -e` does not apply. */
  tested = 0;
  /** The status of the last command substitution of the command being expanded. */
  substStatus = 0;
  readonly stdout: Buffer[] = [];
  readonly stderr: Buffer[] = [];
  fd1: Sink = STDOUT;
  fd2: Sink = STDERR;
  stdin: Buffer;

  constructor(
    readonly run: ShellRun,
    errexit: boolean,
  ) {
    this.cwd = run.cwd;
    this.errexit = errexit;
    this.stdin = run.stdin ?? EMPTY;
  }

  get fs(): Disk {
    return this.run.fs;
  }

  /** File times: the run's start (a command's files appear when it starts). */
  get now(): number {
    return this.run.now;
  }

  /** The simulated clock as `date` reads it: the run's start plus the sleeps so far. */
  get clock(): number {
    return this.run.now + this.durationMs;
  }

  variable(name: string): string {
    if (name === '?') return String(this.status);
    const positional = this.run.positional ?? [];
    if (/^\d$/.test(name)) return positional[Number(name)] ?? '';
    if (name === '#') return String(Math.max(0, positional.length - 1));
    if (name === '@' || name === '*') return positional.slice(1).join(' ');
    return this.vars.get(name) ?? this.run.env[name] ?? '';
  }

  abs(p: string): string {
    return resolvePath(this.cwd, p);
  }

  write(sink: Sink, text: string | Buffer): void {
    const data = typeof text === 'string' ? Buffer.from(text) : text;
    if (data.length === 0) return;
    if (sink.kind === 'out') this.stdout.push(data);
    else if (sink.kind === 'err') this.stderr.push(data);
    else if (sink.kind === 'file') this.fs.writeFile(sink.path, data, this.now, { append: true });
  }

  out(text: string | Buffer): void {
    this.write(this.fd1, text);
  }

  err(text: string): void {
    this.write(this.fd2, `${text}\n`);
  }

  /** A child shell for `$(…)`: the same disk, variables copied, stdout captured. */
  substitute(script: Script): string {
    const child = new Shell({ ...this.run, now: this.clock, stdin: this.stdin }, false);
    for (const [k, v] of this.vars) child.vars.set(k, v);
    child.cwd = this.cwd;
    child.fd2 = this.fd2;
    child.status = this.status;
    try {
      child.runAll(script.lists);
    } catch (e) {
      // `exit` in `$(…)` ends only the substitution's subshell.
      if (!(e instanceof Exit)) throw e;
      child.status = e.code;
    }
    this.durationMs += child.durationMs;
    for (const e of child.stderr) this.write(this.fd2, e);
    this.substStatus = child.status;
    return Buffer.concat(child.stdout).toString('utf8').replace(/\n+$/, '');
  }

  /** A word's fields: variables and `$(…)` expanded (split on blanks when unquoted), then unquoted globs. */
  expand(word: Word): string[] {
    const fields: { text: string; pattern: string; keep: boolean }[] = [];
    let cur = { text: '', pattern: '', keep: false };
    for (const part of word.parts) {
      if (part.t === 'lit') {
        cur.text += part.v;
        cur.pattern += part.q ? escapeGlob(part.v) : part.v;
        if (part.q) cur.keep = true;
        continue;
      }
      const value = part.t === 'var' ? this.variable(part.name) : this.substitute(part.script);
      if (part.q) {
        cur.text += value;
        cur.pattern += escapeGlob(value);
        cur.keep = true;
        continue;
      }
      value.split(/[ \t\n]+/).forEach((piece, i) => {
        if (i > 0) {
          fields.push(cur);
          cur = { text: '', pattern: '', keep: false };
        }
        cur.text += piece;
        cur.pattern += escapeGlob(piece);
      });
    }
    fields.push(cur);
    const result: string[] = [];
    for (const f of fields) {
      if (f.text === '' && !f.keep) continue;
      // Only a wildcard the word wrote unquoted globs; quoted ones were escaped as `[*]`.
      if (/[*?[]/.test(f.pattern.replace(/\[[*?[]\]/g, ''))) {
        const matches = glob(this.fs, this.cwd, f.pattern, false);
        if (matches.length > 0) {
          const segs = f.pattern.split('/');
          const wildAt = segs.findIndex(hasWildcard);
          const lead = segs.slice(0, wildAt).map((seg) => seg.replace(/\[([*?[])\]/g, '$1'));
          const prefix = wildAt === 0 ? '' : `${lead.join('/')}/`;
          for (const m of matches) result.push(`${prefix}${m.relative}`);
          continue;
        }
      }
      result.push(f.text);
    }
    return result;
  }

  private openRedirects(redirects: readonly Redirect[]): boolean {
    for (const r of redirects) {
      if ('dup' in r.target) {
        const sink = r.target.dup === 1 ? this.fd1 : this.fd2;
        if (r.fd === 1) this.fd1 = sink;
        else this.fd2 = sink;
        continue;
      }
      const name = this.expand(r.target).join(' ');
      const path = this.abs(name);
      if (r.fd === 0) {
        try {
          this.stdin = path === DEV_NULL ? EMPTY : this.fs.readFile(path);
        } catch (e) {
          this.err(
            `sh: 1: cannot open ${name}: ${e instanceof FsError && e.reason === 'ENOENT' ? 'No such file' : fsMessage(e)}`,
          );
          return false;
        }
        continue;
      }
      let sink: Sink;
      if (path === DEV_NULL) sink = NULL_SINK;
      else {
        try {
          const appendTo = r.append && this.fs.lookup(path)?.kind === 'file';
          if (!appendTo) this.fs.writeFile(path, EMPTY, this.now);
        } catch (e) {
          const reason =
            e instanceof FsError && e.reason === 'ENOENT' ? 'Directory nonexistent' : fsMessage(e);
          this.err(`sh: 1: cannot create ${name}: ${reason}`);
          return false;
        }
        sink = { kind: 'file', path };
      }
      if (r.fd === 1) this.fd1 = sink;
      else this.fd2 = sink;
    }
    return true;
  }

  runSimple(cmd: SimpleCommand): number {
    const saved: [Sink, Sink, Buffer] = [this.fd1, this.fd2, this.stdin];
    try {
      this.substStatus = 0;
      if (!this.openRedirects(cmd.redirects)) return 2;
      // Leading NAME=value words are assignments: their value is neither split nor globbed.
      const assignments: [string, string][] = [];
      let first = 0;
      while (first < cmd.words.length) {
        const lead = cmd.words[first]!.parts[0];
        const m = lead?.t === 'lit' && !lead.q ? /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(lead.v) : null;
        if (!m) break;
        const value = cmd.words[first]!.parts.map((p) =>
          p.t === 'lit' ? p.v : p.t === 'var' ? this.variable(p.name) : this.substitute(p.script),
        );
        assignments.push([m[1]!, value.join('').slice(m[0].length)]);
        first++;
      }
      const words = cmd.words.slice(first).flatMap((w) => this.expand(w));
      if (words.length === 0) {
        for (const [k, v] of assignments) this.vars.set(k, v);
        // `x=$(cmd)` has the status of its last command substitution.
        return this.substStatus;
      }
      const builtin = BUILTINS[words[0]!];
      return builtin ? builtin(this, words.slice(1)) : 0;
    } finally {
      [this.fd1, this.fd2, this.stdin] = saved;
    }
  }

  private runIf(cmd: IfCommand): number {
    for (const clause of cmd.clauses) {
      this.tested++;
      let cond: number;
      try {
        cond = this.runAll(clause.cond);
      } finally {
        this.tested--;
      }
      if (cond === 0) return this.runAll(clause.body);
    }
    return cmd.otherwise ? this.runAll(cmd.otherwise) : 0;
  }

  runCommand(cmd: Command): number {
    return cmd.kind === 'if' ? this.runIf(cmd) : this.runSimple(cmd);
  }

  /** An and-or list: the status, and whether a failing simple command ended it untested. */
  private runAndOr(list: AndOr): [number, boolean] {
    this.status = this.runCommand(list.first);
    let failedLast = this.status !== 0 && list.rest.length === 0 && list.first.kind === 'simple';
    list.rest.forEach(({ op, cmd }, i) => {
      if ((op === '&&') === (this.status === 0)) {
        this.status = this.runCommand(cmd);
        failedLast = this.status !== 0 && i === list.rest.length - 1 && cmd.kind === 'simple';
      } else failedLast = false;
    });
    return [this.status, failedLast];
  }

  /** A list of and-or lists; `set -e` ends the script at a failing command no `&&`/`||`/`if` tests. */
  runAll(lists: readonly AndOr[]): number {
    for (const list of lists) {
      const [, failedLast] = this.runAndOr(list);
      if (this.errexit && this.tested === 0 && failedLast) throw new Exit(this.status);
    }
    return this.status;
  }
}

function copyEntry(sh: Shell, entry: Entry, to: string): void {
  if (entry.kind === 'file') {
    sh.fs.writeFile(to, entry.data, sh.now, { mode: entry.mode });
    return;
  }
  sh.fs.mkdirp(to, sh.now);
  for (const [name, child] of entry.children) copyEntry(sh, child, `${to === '/' ? '' : to}/${name}`);
}

function copyOrMove(sh: Shell, name: 'cp' | 'mv', args: readonly string[]): number {
  const [flags, ops] = flagsAndOperands(args);
  const recursive = name === 'mv' || flags.has('r') || flags.has('R') || flags.has('a');
  if (ops.length < 2) {
    sh.err(
      ops.length === 0
        ? `${name}: missing file operand`
        : `${name}: missing destination file operand after '${ops[0]}'`,
    );
    return 1;
  }
  const dest = ops[ops.length - 1]!;
  const intoDir = sh.fs.lookup(sh.abs(dest))?.kind === 'dir';
  if (ops.length > 2 && !intoDir) {
    sh.err(`${name}: target '${dest}' is not a directory`);
    return 1;
  }
  let code = 0;
  for (const src of ops.slice(0, -1)) {
    const from = sh.abs(src);
    const entry = sh.fs.lookup(from);
    if (!entry) {
      sh.err(`${name}: cannot stat '${src}': No such file or directory`);
      code = 1;
      continue;
    }
    if (entry.kind === 'dir' && !recursive) {
      sh.err(`cp: -r not specified; omitting directory '${src}'`);
      code = 1;
      continue;
    }
    // `cp -R dir/. dest`: the directory's contents go into dest (created if missing), not dir itself.
    const contents = name === 'cp' && (src === '.' || src.endsWith('/.'));
    const to = intoDir && !contents ? `${sh.abs(dest).replace(/\/$/, '')}/${baseName(from)}` : sh.abs(dest);
    if (to === from || to.startsWith(`${from}/`)) {
      sh.err(`${name}: cannot copy a directory, '${src}', into itself, '${dest}'`);
      code = 1;
      continue;
    }
    try {
      copyEntry(sh, entry, to);
      if (name === 'mv') sh.fs.remove(from, sh.now);
    } catch (e) {
      const kind = entry.kind === 'dir' ? 'directory' : 'regular file';
      sh.err(`${name}: cannot create ${kind} '${dest}': ${fsMessage(e)}`);
      code = 1;
    }
  }
  return code;
}

const listDir = (dir: DirEntry, all: boolean): string =>
  [...dir.children.keys()]
    .filter((n) => all || !n.startsWith('.'))
    .sort()
    .map((n) => `${n}\n`)
    .join('');

/** `test` / `[`: 0 true, 1 false, 2 a usage error (coreutils' test). */
function evaluateTest(sh: Shell, args: readonly string[]): number {
  const integer = (s: string): number | undefined => (/^\s*[-+]?\d+\s*$/.test(s) ? Number(s) : undefined);
  const truth = (b: boolean) => (b ? 0 : 1);
  if (args.length === 0) return 1;
  if (args[0] === '!' && args.length > 1) {
    const r = evaluateTest(sh, args.slice(1));
    return r === 2 ? 2 : 1 - r;
  }
  if (args.length === 1) return truth(args[0] !== '');
  if (args.length === 2) {
    const [op, operand] = args as [string, string];
    const entry = () => sh.fs.lookup(sh.abs(operand));
    switch (op) {
      case '-n':
        return truth(operand !== '');
      case '-z':
        return truth(operand === '');
      case '-e':
        return truth(operand !== '' && entry() !== undefined);
      case '-f':
        return truth(operand !== '' && entry()?.kind === 'file');
      case '-d':
        return truth(operand !== '' && entry()?.kind === 'dir');
      case '-s': {
        const e = operand !== '' ? entry() : undefined;
        return truth(e !== undefined && (e.kind === 'dir' || fileSize(e) > 0));
      }
      default:
        sh.err(`sh: 1: test: ${op}: unexpected operator`);
        return 2;
    }
  }
  if (args.length === 3) {
    const [a, op, b] = args as [string, string, string];
    if (op === '=' || op === '==') return truth(a === b);
    if (op === '!=') return truth(a !== b);
    const compare: Record<string, (x: number, y: number) => boolean> = {
      '-eq': (x, y) => x === y,
      '-ne': (x, y) => x !== y,
      '-lt': (x, y) => x < y,
      '-le': (x, y) => x <= y,
      '-gt': (x, y) => x > y,
      '-ge': (x, y) => x >= y,
    };
    const f = compare[op];
    if (f) {
      const x = integer(a);
      const y = integer(b);
      if (x === undefined || y === undefined) {
        sh.err(`sh: 1: test: Illegal number: ${x === undefined ? a : b}`);
        return 2;
      }
      return truth(f(x, y));
    }
  }
  sh.err('sh: 1: test: unexpected operator');
  return 2;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** GNU date's format directives the emulator knows, in UTC (the simulated node's zone). */
function formatDate(ms: number, format: string): string {
  const d = new Date(ms);
  const nanos = `${pad(d.getUTCMilliseconds(), 3)}000000`;
  return format.replace(/%(\d?)([A-Za-z%])/g, (whole, width: string, c: string) => {
    switch (c) {
      case 'Y':
        return String(d.getUTCFullYear());
      case 'm':
        return pad(d.getUTCMonth() + 1);
      case 'd':
        return pad(d.getUTCDate());
      case 'e':
        return String(d.getUTCDate()).padStart(2, ' ');
      case 'H':
        return pad(d.getUTCHours());
      case 'M':
        return pad(d.getUTCMinutes());
      case 'S':
        return pad(d.getUTCSeconds());
      case 'N':
        return nanos.slice(0, width ? Number(width) : 9);
      case 'F':
        return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
      case 'T':
        return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
      case 's':
        return String(Math.floor(ms / 1000));
      case 'a':
        return DAYS[d.getUTCDay()]!;
      case 'b':
        return MONTHS[d.getUTCMonth()]!;
      case 'Z':
        return 'UTC';
      case 'z':
        return '+0000';
      case '%':
        return '%';
      default:
        return whole;
    }
  });
}

/** find's `-printf` escapes and directives for one found entry. */
function findPrintf(
  format: string,
  found: { readonly shown: string; readonly relative: string; readonly entry: Entry },
): string {
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\' };
  return format.replace(/\\([ntr0\\])|%([spPf%])/g, (_, esc: string | undefined, directive: string) => {
    if (esc !== undefined) return escapes[esc]!;
    switch (directive) {
      case 's':
        return String(found.entry.kind === 'file' ? fileSize(found.entry) : 4096);
      case 'p':
        return found.shown;
      case 'P':
        return found.relative;
      case 'f':
        return baseName(found.shown) || '/';
      default:
        return '%';
    }
  });
}

function find(sh: Shell, args: readonly string[]): number {
  let i = 0;
  const starts: string[] = [];
  while (i < args.length && !args[i]!.startsWith('-') && args[i] !== '!' && args[i] !== '(')
    starts.push(args[i++]!);
  if (starts.length === 0) starts.push('.');
  let minDepth = 0;
  let maxDepth = Number.POSITIVE_INFINITY;
  let type: 'f' | 'd' | undefined;
  let name: RegExp | undefined;
  let printf: string | undefined;
  while (i < args.length) {
    const a = args[i++]!;
    const value = args[i];
    if (a === '-print') continue;
    if (value === undefined) {
      sh.err(`find: missing argument to \`${a}'`);
      return 1;
    }
    i++;
    if (a === '-maxdepth' || a === '-mindepth') {
      if (!/^\d+$/.test(value)) {
        sh.err(`find: Expected a positive decimal integer argument to ${a}, but got '${value}'`);
        return 1;
      }
      if (a === '-maxdepth') maxDepth = Number(value);
      else minDepth = Number(value);
    } else if (a === '-type' && (value === 'f' || value === 'd')) type = value;
    else if (a === '-name') name = segmentRegExp(value);
    else if (a === '-printf') printf = value;
    else {
      sh.err(`find: unknown predicate \`${a}'`);
      return 1;
    }
  }
  let code = 0;
  for (const start of starts) {
    const root = sh.abs(start);
    const top = sh.fs.lookup(root);
    if (!top) {
      sh.err(`find: '${start}': No such file or directory`);
      code = 1;
      continue;
    }
    // The paths printed keep the start as given (`find .` prints `./a`); `%P` is the part below it.
    const below = (path: string) =>
      path === root ? '' : root === '/' ? path.slice(1) : path.slice(root.length + 1);
    const visit = (path: string, entry: Entry, depth: number) => {
      const fits =
        depth >= minDepth &&
        (type === undefined || (type === 'f') === (entry.kind === 'file')) &&
        (name === undefined || name.test(baseName(path) || '/'));
      if (fits) {
        const relative = below(path);
        const shown = relative === '' ? start : `${start.endsWith('/') ? start : `${start}/`}${relative}`;
        sh.out(printf === undefined ? `${shown}\n` : findPrintf(printf, { shown, relative, entry }));
      }
      if (entry.kind !== 'dir' || depth >= maxDepth) return;
      for (const child of [...entry.children.keys()].sort()) {
        const childPath = `${path === '/' ? '' : path}/${child}`;
        const childEntry = sh.fs.lookup(childPath);
        if (childEntry) visit(childPath, childEntry, depth + 1);
      }
    };
    visit(root, top, 0);
  }
  return code;
}

/** The shell's reading of `sh [options] [-c script | file] args…`: the script, `$0…`, `-e`. */
function shellInvocation(
  sh: Shell,
  argv: readonly string[],
): { text: string; positional: string[]; errexit: boolean } | { exitCode: number } {
  const program = baseName(argv[0]!);
  let command = false;
  let errexit = false;
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-o' || a === '+o') {
      i++;
      continue;
    }
    if (/^--[a-z-]+$/.test(a)) continue;
    if (!/^[-+][A-Za-z]+$/.test(a)) break;
    if (a.startsWith('-') && a.includes('e')) errexit = true;
    if (a.includes('c')) command = true;
    if (a.includes('o')) i++;
  }
  if (command) {
    const text = argv[i];
    if (text === undefined) {
      sh.err(`${program}: -c: option requires an argument`);
      return { exitCode: 2 };
    }
    return { text, positional: [argv[i + 1] ?? program, ...argv.slice(i + 2)], errexit };
  }
  const file = argv[i];
  if (file === undefined) return { text: sh.stdin.toString('utf8'), positional: [program], errexit };
  try {
    return {
      text: sh.fs.readFile(sh.abs(file)).toString('utf8'),
      positional: [file, ...argv.slice(i + 1)],
      errexit,
    };
  } catch (e) {
    sh.err(`${program}: ${file}: ${fsMessage(e)}`);
    return { exitCode: 127 };
  }
}

/** A script's text run in a child shell over `run`; outside the grammar, the old reading (sleep, exit). */
function runText(text: string, errexit: boolean, run: ShellRun): ShellResult {
  const script = parseScript(text, errexit);
  if (!script) return { ...commandBehaviour(text), stdout: EMPTY, stderr: EMPTY };
  return runScript(script, run);
}

/** What `docker run` runs in the container: its argv in the container's view, as described above. */
function runInContainer(sh: Shell, run: DockerRun, view: ContainerFs, env: Record<string, string>): number {
  const base = {
    fs: view,
    cwd: run.workdir ?? '/',
    env,
    now: sh.clock,
    ...(run.interactive ? { stdin: sh.stdin } : {}),
  };
  const child = new Shell(base, false);
  const finish = (r: ShellResult) => {
    sh.durationMs += r.durationMs;
    sh.out(r.stdout);
    sh.write(sh.fd2, r.stderr);
    return r.exitCode;
  };
  const [program, ...args] = run.argv;
  if (program === undefined) return 0;
  const name = baseName(program);
  if (program.includes('/') && view.bound(resolvePath(base.cwd, program))) {
    const entry = view.lookup(resolvePath(base.cwd, program));
    const deny = (code: number, why: string) => {
      sh.err(
        `docker: Error response from daemon: failed to create task for container: OCI runtime create failed: unable to start container process: exec: "${program}": ${why}: unknown.`,
      );
      return code;
    };
    if (!entry) return deny(127, `stat ${program}: no such file or directory`);
    if (entry.kind === 'dir' || (Number.parseInt(entry.mode, 8) & 0o100) === 0)
      return deny(126, 'permission denied');
    const text = entry.data.toString('utf8');
    const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
    const interpreter = shebang ? baseName(shebang[1]!) : undefined;
    const viaEnv = interpreter === 'env' ? shebang?.[2] : interpreter;
    if (viaEnv === undefined || !SHELLS.has(viaEnv)) return 0;
    const errexit = /^-\w*e/.test((interpreter === 'env' ? '' : shebang?.[2]) ?? '');
    return finish(runText(text, errexit, { ...base, positional: [program, ...args] }));
  }
  if (SHELLS.has(name)) {
    const invocation = shellInvocation(child, run.argv);
    if ('exitCode' in invocation) {
      for (const e of child.stderr) sh.write(sh.fd2, e);
      return invocation.exitCode;
    }
    return finish(
      runText(invocation.text, invocation.errexit, { ...base, positional: invocation.positional }),
    );
  }
  const builtin = BUILTINS[name];
  if (!builtin) return 0;
  const code = builtin(child, args);
  return finish({
    durationMs: child.durationMs,
    exitCode: code,
    stdout: Buffer.concat(child.stdout),
    stderr: Buffer.concat(child.stderr),
  });
}

function docker(sh: Shell, args: readonly string[]): number {
  if (sh.run.docker === undefined) {
    sh.err('sh: 1: docker: not found');
    return 127;
  }
  const parsed = parseDocker(args, (n) => sh.vars.get(n) ?? sh.run.env[n]);
  if (parsed.kind === 'error') {
    sh.err(parsed.message);
    return parsed.exitCode;
  }
  if (sh.run.docker === 'denied') {
    sh.err(
      'docker: permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: connect: permission denied.',
    );
    return DOCKER_ERROR_EXIT;
  }
  if (parsed.kind === 'noop') return 0;
  const run = parsed.run;
  let view: ContainerFs;
  try {
    view = new ContainerFs(sh.fs, run.binds as Bind[], sh.now);
    for (const v of run.volumes) view.mkdirp(v, sh.now);
    if (run.workdir) view.mkdirp(run.workdir, sh.now);
  } catch (e) {
    sh.err(`docker: Error response from daemon: failed to mount: ${fsMessage(e)}.`);
    return DOCKER_ERROR_EXIT;
  }
  const env = { PATH: CONTAINER_PATH, HOME: '/root', HOSTNAME: 'emulated', ...run.env };
  return runInContainer(sh, run, view, env);
}

const BUILTINS: Record<string, (sh: Shell, args: readonly string[]) => number> = {
  echo: (sh, args) => {
    let newline = true;
    let i = 0;
    while (i < args.length && /^-[neE]+$/.test(args[i]!)) {
      if (args[i]!.includes('n')) newline = false;
      i++;
    }
    sh.out(`${args.slice(i).join(' ')}${newline ? '\n' : ''}`);
    return 0;
  },
  cat: (sh, args) => {
    let code = 0;
    const files = flagsAndOperands(args)[1];
    for (const f of files.length === 0 ? ['-'] : files) {
      if (f === '-') {
        sh.out(sh.stdin);
        continue;
      }
      try {
        sh.out(sh.fs.readFile(sh.abs(f)));
      } catch (e) {
        sh.err(`cat: ${f}: ${fsMessage(e)}`);
        code = 1;
      }
    }
    return code;
  },
  cp: (sh, args) => copyOrMove(sh, 'cp', args),
  mv: (sh, args) => copyOrMove(sh, 'mv', args),
  mkdir: (sh, args) => {
    const [flags, ops] = flagsAndOperands(args);
    if (ops.length === 0) {
      sh.err('mkdir: missing operand');
      return 1;
    }
    let code = 0;
    for (const d of ops) {
      try {
        if (flags.has('p')) sh.fs.mkdirp(sh.abs(d), sh.now);
        else sh.fs.mkdir(sh.abs(d), sh.now);
      } catch (e) {
        sh.err(`mkdir: cannot create directory '${d}': ${fsMessage(e)}`);
        code = 1;
      }
    }
    return code;
  },
  rm: (sh, args) => {
    const [flags, ops] = flagsAndOperands(args);
    let code = 0;
    for (const p of ops) {
      const entry = sh.fs.lookup(sh.abs(p));
      if (!entry) {
        if (!flags.has('f')) {
          sh.err(`rm: cannot remove '${p}': No such file or directory`);
          code = 1;
        }
      } else if (entry.kind === 'dir' && !flags.has('r') && !flags.has('R')) {
        sh.err(`rm: cannot remove '${p}': Is a directory`);
        code = 1;
      } else {
        try {
          sh.fs.remove(sh.abs(p), sh.now);
        } catch (e) {
          sh.err(`rm: cannot remove '${p}': ${fsMessage(e)}`);
          code = 1;
        }
      }
    }
    return code;
  },
  ls: (sh, args) => {
    const [flags, given] = flagsAndOperands(args);
    const ops = given.length > 0 ? given : ['.'];
    const all = flags.has('a') || flags.has('A');
    let code = 0;
    const dirs: [string, DirEntry][] = [];
    for (const p of ops) {
      const entry = sh.fs.lookup(sh.abs(p));
      if (!entry) {
        sh.err(`ls: cannot access '${p}': No such file or directory`);
        code = 2;
      } else if (entry.kind === 'file') sh.out(`${p}\n`);
      else dirs.push([p, entry]);
    }
    dirs.forEach(([p, d], i) => {
      if (ops.length > 1) sh.out(`${i > 0 || dirs.length < ops.length ? '\n' : ''}${p}:\n`);
      sh.out(listDir(d, all));
    });
    return code;
  },
  touch: (sh, args) => {
    let code = 0;
    for (const f of flagsAndOperands(args)[1]) {
      const path = sh.abs(f);
      const entry = sh.fs.lookup(path);
      try {
        if (entry) entry.modified = sh.now;
        else sh.fs.writeFile(path, EMPTY, sh.now);
      } catch (e) {
        sh.err(`touch: cannot touch '${f}': ${fsMessage(e)}`);
        code = 1;
      }
    }
    return code;
  },
  cd: (sh, args) => {
    const target = args[0];
    if (target === undefined) return 0;
    if (sh.fs.lookup(sh.abs(target))?.kind !== 'dir') {
      sh.err(`sh: 1: cd: can't cd to ${target}`);
      return 2;
    }
    sh.cwd = sh.abs(target);
    sh.vars.set('PWD', sh.cwd);
    return 0;
  },
  pwd: (sh) => {
    sh.out(`${sh.cwd}\n`);
    return 0;
  },
  true: () => 0,
  ':': () => 0,
  false: () => 1,
  test: (sh, args) => evaluateTest(sh, args),
  '[': (sh, args) => {
    if (args[args.length - 1] !== ']') {
      sh.err('sh: 1: [: missing ]');
      return 2;
    }
    return evaluateTest(sh, args.slice(0, -1));
  },
  date: (sh, args) => {
    let format = '%a %b %e %H:%M:%S %Z %Y';
    for (const a of args) {
      if (a.startsWith('+')) format = a.slice(1);
      else if (a !== '-u' && a !== '--utc' && a !== '--universal') {
        sh.err(`date: invalid option -- '${a.replace(/^-+/, '')}'`);
        return 1;
      }
    }
    sh.out(`${formatDate(sh.clock, format)}\n`);
    return 0;
  },
  find: (sh, args) => find(sh, args),
  docker: (sh, args) => docker(sh, args),
  sleep: (sh, args) => {
    if (args.length === 0) {
      sh.err('sleep: missing operand');
      return 1;
    }
    let total = 0;
    for (const a of args) {
      const m = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(a);
      if (!m) {
        sh.err(`sleep: invalid time interval '${a}'`);
        return 1;
      }
      total += Number(m[1]) * SLEEP_UNITS[m[2]!]!;
    }
    sh.durationMs += Math.round(total * 1000);
    return 0;
  },
  exit: (sh, args) => {
    const a = args[0];
    if (a === undefined) throw new Exit(sh.status);
    if (!/^\d+$/.test(a)) {
      sh.err(`sh: 1: exit: Illegal number: ${a}`);
      throw new Exit(2);
    }
    throw new Exit(Number(a) & 255);
  },
  set: (sh, args) => {
    for (const a of args) {
      if (/^-[a-z]*e/.test(a)) sh.errexit = true;
      else if (/^\+[a-z]*e/.test(a)) sh.errexit = false;
    }
    return 0;
  },
  export: (sh, args) => {
    for (const a of args) {
      const eq = a.indexOf('=');
      if (eq > 0) sh.vars.set(a.slice(0, eq), a.slice(eq + 1));
    }
    return 0;
  },
};

export function runScript(script: Script, run: ShellRun): ShellResult {
  const sh = new Shell(run, script.errexit);
  try {
    sh.runAll(script.lists);
  } catch (e) {
    if (e instanceof FsError) {
      // A host-backed share (host-fs.ts) failing under a command that cannot fail on the node's own
      // disk (a write to an already open file): the script ends as a shell does on an I/O error.
      sh.stderr.push(Buffer.from(`sh: 1: ${e.path}: ${fsMessage(e)}\n`));
      sh.status = 2;
    } else if (!(e instanceof Exit)) throw e;
    else sh.status = e.code;
  }
  return {
    durationMs: sh.durationMs,
    exitCode: sh.status,
    stdout: sh.stdout.length === 1 ? sh.stdout[0]! : Buffer.concat(sh.stdout),
    stderr: sh.stderr.length === 1 ? sh.stderr[0]! : Buffer.concat(sh.stderr),
  };
}
