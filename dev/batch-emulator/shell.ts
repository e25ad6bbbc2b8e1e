/**
 * Runs a task's script (shell-parse.ts) against its node's in-memory disk, at once: the command's
 * files appear when it starts, and its simulated duration is the sum of its `sleep`s.
 *
 * Commands: `echo [-n] …`, `cat f…`, `cp [-r] src… dst`, `mv src… dst`, `mkdir [-p] d…`,
 * `rm [-rf] p…`, `ls [-a] [p…]`, `touch f…`, `cd d`, `pwd`, `true`, `:`, `false`, `sleep N[smhd]…`,
 * `exit [K]`, `set [-e|+e]`, `export NAME=value…`, `NAME=value`. Messages and exit codes follow
 * GNU coreutils and dash (`/bin/sh` on Ubuntu). Any other command does nothing and succeeds (exit 0),
 * so command lines written for real programs (`python train.py`) still run.
 */
import { glob, hasWildcard } from './glob.js';
import { baseName, type DirEntry, type Entry, FsError, type NodeFs, resolvePath } from './node-fs.js';
import type { Redirect, Script, SimpleCommand, Word } from './shell-parse.js';

export interface ShellRun {
  readonly fs: NodeFs;
  /** Absolute working directory. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Simulated time the command starts (file times). */
  readonly now: number;
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
  | { readonly kind: 'file'; readonly path: string };

const STDOUT: Sink = { kind: 'out' };
const STDERR: Sink = { kind: 'err' };

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
  readonly stdout: Buffer[] = [];
  readonly stderr: Buffer[] = [];
  fd1: Sink = STDOUT;
  fd2: Sink = STDERR;

  constructor(
    readonly run: ShellRun,
    script: Script,
  ) {
    this.cwd = run.cwd;
    this.errexit = script.errexit;
  }

  get fs(): NodeFs {
    return this.run.fs;
  }

  get now(): number {
    return this.run.now;
  }

  variable(name: string): string {
    if (name === '?') return String(this.status);
    return this.vars.get(name) ?? this.run.env[name] ?? '';
  }

  abs(p: string): string {
    return resolvePath(this.cwd, p);
  }

  private write(sink: Sink, text: string | Buffer): void {
    const data = typeof text === 'string' ? Buffer.from(text) : text;
    if (data.length === 0) return;
    if (sink.kind === 'out') this.stdout.push(data);
    else if (sink.kind === 'err') this.stderr.push(data);
    else this.fs.writeFile(sink.path, data, this.now, { append: true });
  }

  out(text: string | Buffer): void {
    this.write(this.fd1, text);
  }

  err(text: string): void {
    this.write(this.fd2, `${text}\n`);
  }

  /** A word's fields: variables expanded (split on blanks when unquoted), then unquoted globs. */
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
      const value = this.variable(part.name);
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
      let sink: Sink;
      if ('dup' in r.target) sink = r.target.dup === 1 ? this.fd1 : this.fd2;
      else {
        const name = this.expand(r.target).join(' ');
        const path = this.abs(name);
        try {
          const appendTo = r.append && this.fs.lookup(path)?.kind === 'file';
          if (!appendTo) this.fs.writeFile(path, Buffer.alloc(0), this.now);
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

  runCommand(cmd: SimpleCommand): number {
    const saved: [Sink, Sink] = [this.fd1, this.fd2];
    try {
      if (!this.openRedirects(cmd.redirects)) return 2;
      const words = cmd.words.flatMap((w) => this.expand(w));
      let i = 0;
      const assignments: [string, string][] = [];
      while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) {
        const w = words[i++]!;
        assignments.push([w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]);
      }
      if (i === words.length) {
        for (const [k, v] of assignments) this.vars.set(k, v);
        return 0;
      }
      const builtin = BUILTINS[words[i]!];
      return builtin ? builtin(this, words.slice(i + 1)) : 0;
    } finally {
      [this.fd1, this.fd2] = saved;
    }
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
    const to = intoDir ? `${sh.abs(dest).replace(/\/$/, '')}/${baseName(from)}` : sh.abs(dest);
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
    for (const f of flagsAndOperands(args)[1]) {
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
      } else sh.fs.remove(sh.abs(p), sh.now);
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
        else sh.fs.writeFile(path, Buffer.alloc(0), sh.now);
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
  const sh = new Shell(run, script);
  try {
    for (const list of script.lists) {
      sh.status = sh.runCommand(list.first);
      let failedLast = sh.status !== 0 && list.rest.length === 0;
      list.rest.forEach(({ op, cmd }, i) => {
        if ((op === '&&') === (sh.status === 0)) {
          sh.status = sh.runCommand(cmd);
          failedLast = sh.status !== 0 && i === list.rest.length - 1;
        } else failedLast = false;
      });
      // `set -e`: a failing command that no `&&` / `||` tests ends the script.
      if (sh.errexit && failedLast) throw new Exit(sh.status);
    }
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    sh.status = e.code;
  }
  return {
    durationMs: sh.durationMs,
    exitCode: sh.status,
    stdout: sh.stdout.length === 1 ? sh.stdout[0]! : Buffer.concat(sh.stdout),
    stderr: sh.stderr.length === 1 ? sh.stderr[0]! : Buffer.concat(sh.stderr),
  };
}
