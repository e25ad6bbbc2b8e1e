/**
 * Container run options (`container.runOptions`): the extra `docker create` options Batch adds for a
 * task. Tasks of different jobs share nodes, so an option that reaches the node (host mounts, host
 * namespaces, capabilities, devices) would let one task read or change another's work. Only a
 * documented subset is accepted (an allow-list: anything not listed is refused), see docs/security.md
 * section "Tasks on shared pools".
 *
 * The string is split as a POSIX shell would split it (quotes, `--opt=value` and `--opt value`,
 * combined short flags), and characters that would make a shell or a plain whitespace splitter read
 * it differently are refused, so the options checked are the options Docker receives.
 */

export type SplitResult =
  | { readonly ok: true; readonly words: readonly string[] }
  | { readonly ok: false; readonly problem: string };

export interface RunOptionsGrant {
  /** The task runs elevated (`elevationLevel: admin`, granted by the operator): uid 0 is allowed. */
  readonly admin: boolean;
}

/** Refused anywhere, quoted or not: expansions and escapes a shell would act on inside quotes too. */
const ALWAYS_REFUSED = new Set(['$', '`', '\\']);
const isControl = (code: number) => (code < 0x20 && code !== 0x09) || code === 0x7f;
/** Refused outside quotes: shell operators, globs, brace and tilde expansion, comments. */
const UNQUOTED_REFUSED = new Set([
  ';',
  '&',
  '|',
  '<',
  '>',
  '(',
  ')',
  '*',
  '?',
  '[',
  ']',
  '{',
  '}',
  '~',
  '#',
  '!',
]);

/** Splits like a POSIX shell word splitter, without any expansion (the characters for those are refused). */
export function splitRunOptions(text: string): SplitResult {
  for (const ch of text) {
    if (ALWAYS_REFUSED.has(ch) || isControl(ch.codePointAt(0)!)) {
      return { ok: false, problem: `must not contain ${describeChar(ch)}` };
    }
    // Some splitters also break words at Unicode spaces (U+00A0, U+2003, …): only space and tab count.
    if (ch !== ' ' && ch !== '\t' && /\s/u.test(ch)) {
      return {
        ok: false,
        problem: `must not contain U+${ch.codePointAt(0)!.toString(16).padStart(4, '0')} (only spaces and tabs separate words)`,
      };
    }
  }
  const words: string[] = [];
  let word = '';
  let inWord = false;
  // Whitespace that came from inside quotes, per word: checked below against the plain-splitter reading.
  let quotedSpace = false;
  let quote: '"' | "'" | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else {
        if (ch === ' ' || ch === '\t') quotedSpace = true;
        word += ch;
      }
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      if (inWord) {
        const problem = checkQuotedSpaces(word, quotedSpace);
        if (problem) return { ok: false, problem };
        words.push(word);
      }
      word = '';
      inWord = false;
      quotedSpace = false;
      continue;
    }
    inWord = true;
    if (ch === '"' || ch === "'") {
      quote = ch;
      continue;
    }
    if (UNQUOTED_REFUSED.has(ch))
      return { ok: false, problem: `must not contain ${describeChar(ch)} unquoted` };
    word += ch;
  }
  if (quote)
    return { ok: false, problem: `has an unterminated ${quote === '"' ? 'double' : 'single'} quote` };
  if (inWord) {
    const problem = checkQuotedSpaces(word, quotedSpace);
    if (problem) return { ok: false, problem };
    words.push(word);
  }
  return { ok: true, words };
}

/**
 * `--env "A=x --privileged"` is one word to a shell but three to a plain whitespace splitter. Whatever
 * Batch's node agent uses, no quoted value may hold a space followed by `-`, so both readings agree on
 * which words are options.
 */
function checkQuotedSpaces(word: string, quotedSpace: boolean): string | undefined {
  if (!quotedSpace) return undefined;
  if (/[ \t]-/.test(word)) {
    return `the quoted value '${clip(word)}' contains a space followed by '-', which could be read as another option`;
  }
  return undefined;
}

interface AllowedOption {
  readonly long: string;
  readonly short?: string;
  /** Whether the option takes a value (`--opt=v`, `--opt v`, `-ov`, `-o v`); otherwise a flag. */
  readonly takesValue: boolean;
  /** Returns why the value is refused, or undefined. */
  readonly check?: (value: string, grant: RunOptionsGrant) => string | undefined;
}

const size = (v: string) =>
  /^\d+(\.\d+)?[bkmgBKMG]?$/.test(v) ? undefined : 'must be a size such as 512m or 2g';
const integer = (v: string) => (/^-?\d+$/.test(v) ? undefined : 'must be an integer');

function namespaceValue(what: string, allowed: readonly string[]) {
  return (v: string) => {
    if (v === 'host') return `'host' shares the node's ${what} namespace with the container`;
    if (v.startsWith('container:')) return `'${clip(v)}' joins another container's ${what} namespace`;
    return allowed.includes(v) ? undefined : `only ${allowed.map((a) => `'${a}'`).join(' or ')} is allowed`;
  };
}

const ALLOWED: readonly AllowedOption[] = [
  // Resource limits: they only narrow what the task may use.
  {
    long: 'cpus',
    takesValue: true,
    check: (v) => (/^\d+(\.\d+)?$/.test(v) ? undefined : 'must be a number'),
  },
  { long: 'cpu-shares', short: 'c', takesValue: true, check: integer },
  { long: 'memory', short: 'm', takesValue: true, check: size },
  { long: 'memory-swap', takesValue: true, check: (v) => (v === '-1' ? undefined : size(v)) },
  { long: 'memory-reservation', takesValue: true, check: size },
  { long: 'shm-size', takesValue: true, check: size },
  { long: 'pids-limit', takesValue: true, check: integer },
  {
    long: 'ulimit',
    takesValue: true,
    check: (v) => (/^[a-z]+=-?\d+(:-?\d+)?$/.test(v) ? undefined : 'must be name=soft[:hard]'),
  },
  {
    long: 'cap-drop',
    takesValue: true,
    check: (v) => (/^[A-Za-z_]+$/.test(v) ? undefined : 'must be a capability name'),
  },
  {
    long: 'security-opt',
    takesValue: true,
    check: (v) =>
      /^no-new-privileges([:=]true)?$/.test(v)
        ? undefined
        : "only 'no-new-privileges' is allowed; other values change the container's seccomp, AppArmor or SELinux confinement",
  },
  // The process inside the container.
  {
    long: 'workdir',
    short: 'w',
    takesValue: true,
    check: (v) => (v.startsWith('/') ? undefined : 'must be an absolute path'),
  },
  {
    long: 'env',
    short: 'e',
    takesValue: true,
    check: (v) =>
      /^[A-Za-z_][A-Za-z0-9_]*=/.test(v)
        ? undefined
        : `'${clip(v)}' must be NAME=value (a bare NAME copies the variable from the node's environment)`,
  },
  { long: 'user', short: 'u', takesValue: true, check: checkUser },
  { long: 'entrypoint', takesValue: true },
  { long: 'init', takesValue: false },
  { long: 'read-only', takesValue: false },
  { long: 'rm', takesValue: false },
  { long: 'tty', short: 't', takesValue: false },
  { long: 'interactive', short: 'i', takesValue: false },
  { long: 'tmpfs', takesValue: true, check: checkTmpfs },
  // Isolation that stays inside the container.
  { long: 'network', takesValue: true, check: namespaceValue('network', ['none', 'bridge']) },
  { long: 'net', takesValue: true, check: namespaceValue('network', ['none', 'bridge']) },
  { long: 'ipc', takesValue: true, check: namespaceValue('IPC', ['private', 'none']) },
  { long: 'cgroupns', takesValue: true, check: namespaceValue('cgroup', ['private']) },
  {
    long: 'gpus',
    takesValue: true,
    check: (v) => (/^[A-Za-z0-9=,:._-]+$/.test(v) ? undefined : 'must be all, a count or device=…'),
  },
];

/** Why well-known dangerous options are refused (everything else off the list gets the generic reason). */
const REFUSED: Readonly<Record<string, string>> = {
  privileged: "it gives the container every capability and the node's devices",
  volume: 'it mounts storage of the node into the container (use --tmpfs for scratch space)',
  mount: 'it mounts storage of the node into the container (use --tmpfs for scratch space)',
  'volumes-from': "it mounts another container's volumes",
  'volume-driver': 'it mounts storage of the node into the container',
  'cap-add': 'it adds Linux capabilities to the container',
  device: 'it gives the container a device of the node',
  'device-cgroup-rule': "it lets the container use the node's devices",
  sysctl: "it changes the node's kernel parameters for the container",
  pid: "it shares the node's or another container's process namespace",
  uts: "it shares the node's UTS namespace",
  userns: "it turns off user namespace remapping (shares the node's user namespace)",
  'cgroup-parent': "it moves the container out of the task's cgroup",
  runtime: 'it changes the container runtime',
  'oom-kill-disable': "it lets the container exhaust the node's memory",
  'env-file': 'it reads a file on the node',
  'label-file': 'it reads a file on the node',
  cidfile: 'it writes a file on the node',
  publish: "it opens ports on the node's network interfaces",
  'publish-all': "it opens ports on the node's network interfaces",
  name: 'Batch names the container itself',
};
const SHORT_REFUSED: Readonly<Record<string, string>> = { v: 'volume', p: 'publish', P: 'publish-all' };

const byLong = new Map(ALLOWED.map((o) => [o.long, o]));
const byShort = new Map(ALLOWED.filter((o) => o.short).map((o) => [o.short!, o]));

/** The long names of the allowed options, for documentation and tests. */
export const allowedRunOptions: readonly string[] = ALLOWED.map((o) => `--${o.long}`);

/**
 * Checks run options against the allowed subset. Returns every problem (empty when allowed), each
 * naming the option and why.
 */
export function checkRunOptions(text: string, grant: RunOptionsGrant): string[] {
  const split = splitRunOptions(text);
  if (!split.ok) return [split.problem];
  const words = split.words;
  const problems: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const take = (): string | undefined => (i + 1 < words.length ? words[++i] : undefined);
    // After a refused option, a following non-option word is probably its value: not reported again.
    const skipProbableValue = () => {
      if (i + 1 < words.length && !words[i + 1]!.startsWith('-')) i++;
    };
    if (word === '--' || !word.startsWith('-') || word === '-') {
      // Batch puts the options before the image: a bare word would be taken as the image to run.
      problems.push(
        `'${clip(word)}' is not an option (only options are allowed; the image is container.image)`,
      );
      continue;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const inline = eq < 0 ? undefined : word.slice(eq + 1);
      const option = byLong.get(name);
      if (!option) {
        problems.push(refusal(`--${name}`, REFUSED[name]));
        if (inline === undefined) skipProbableValue();
        continue;
      }
      const value = option.takesValue ? (inline ?? take()) : inline;
      problems.push(...checkValue(`--${name}`, option, value, grant));
      continue;
    }
    // Short flags may be combined (`-it`); a short option that takes a value takes the rest of the word
    // (`-m512m`, `-m=512m`) or the next word.
    const letters = word.slice(1);
    for (let j = 0; j < letters.length; j++) {
      const letter = letters[j]!;
      const option = byShort.get(letter);
      if (!option) {
        const long = SHORT_REFUSED[letter];
        problems.push(
          refusal(long ? `-${letter} (--${long})` : `-${letter}`, long ? REFUSED[long] : undefined),
        );
        if (j === letters.length - 1) skipProbableValue();
        break;
      }
      if (!option.takesValue) continue;
      let rest = letters.slice(j + 1);
      if (rest.startsWith('=')) rest = rest.slice(1);
      const value = rest !== '' ? rest : take();
      problems.push(...checkValue(`-${letter} (--${option.long})`, option, value, grant));
      break;
    }
  }
  return problems;
}

function checkValue(
  label: string,
  option: AllowedOption,
  value: string | undefined,
  grant: RunOptionsGrant,
): string[] {
  if (!option.takesValue) {
    // Docker's boolean flags accept an explicit =true / =false.
    return value === undefined || value === 'true' || value === 'false'
      ? []
      : [`${label} is a flag: only =true or =false may follow it`];
  }
  if (value === undefined) return [`${label} needs a value`];
  const why = option.check?.(value, grant);
  return why ? [`${label} ${why}`] : [];
}

function checkUser(value: string, grant: RunOptionsGrant): string | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  // A user name could be root under another name in the image's /etc/passwd: only numbers are checkable.
  if (!m) return `'${clip(value)}' must be a numeric uid or uid:gid`;
  const root = Number(m[1]) === 0 || (m[2] !== undefined && Number(m[2]) === 0);
  if (root && !grant.admin) {
    return 'uid or gid 0 (root) is allowed only for tasks with elevationLevel admin';
  }
  return undefined;
}

const TMPFS_OPTION = /^(rw|ro|noexec|exec|nosuid|nodev|size=\d+[kmgKMG%]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+)$/;

function checkTmpfs(value: string): string | undefined {
  const colon = value.indexOf(':');
  const path = colon < 0 ? value : value.slice(0, colon);
  if (!path.startsWith('/')) return 'needs an absolute path inside the container';
  if (colon < 0) return undefined;
  const bad = value
    .slice(colon + 1)
    .split(',')
    .find((o) => !TMPFS_OPTION.test(o));
  return bad === undefined
    ? undefined
    : `option '${clip(bad)}' is not allowed (rw, ro, noexec, exec, nosuid, nodev, size, mode, uid, gid)`;
}

function refusal(label: string, reason: string | undefined): string {
  return reason
    ? `${label} is not allowed: ${reason}`
    : `${label} is not in the allowed subset of run options (see docs/security.md: Tasks on shared pools)`;
}

function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f
    ? `control character U+${code.toString(16).padStart(4, '0')}`
    : `'${ch}'`;
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
