/**
 * Reading a `docker` command line as the Docker CLI does (docs.docker.com/reference/cli/docker/
 * container/run): options up to the image (the first operand, or after `--`), then the command and
 * its arguments untouched. Options take their value as the next word or after `=` (`--env=K=V`,
 * `-e=K=V`); short flags may be grouped (`-it`). The shell (shell.ts) runs what this returns in a
 * container's view of the node's disk (container-fs.ts).
 *
 * Read: `--rm`, `-i`/`--interactive`, `-v`/`--volume host:container[:ro|rw…]` (a host path not
 * starting with `/` is a named volume: the container's own), `-w`/`--workdir` (absolute),
 * `-e`/`--env K=V` (or `K`: the caller's value, if set), `--entrypoint`. Accepted and ignored: `-t`,
 * `--init`, `--privileged`, `--read-only`, and resource, network, user and naming options such as
 * `--cpus`, `--memory`, `--network`, `--user`, `--name`, `--pull`. Anything else is an error of the
 * CLI itself (exit 125, "unknown flag"), as is a missing image. `docker pull`, `docker image …`,
 * `docker version` and `docker info` succeed without doing anything: the emulator pulls nothing and
 * runs any image name.
 */
import type { Bind } from './container-fs.js';
import { resolvePath } from './node-fs.js';

export interface DockerRun {
  readonly image: string;
  /** The command and its arguments (with `--entrypoint`, that program first). */
  readonly argv: readonly string[];
  readonly binds: readonly Bind[];
  /** Container paths of anonymous and named volumes: empty directories of the container's own. */
  readonly volumes: readonly string[];
  readonly workdir?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly interactive: boolean;
}

export type DockerCommand =
  | { readonly kind: 'run'; readonly run: DockerRun }
  | { readonly kind: 'noop' }
  | { readonly kind: 'error'; readonly message: string; readonly exitCode: number };

/** Exit code of the Docker CLI's own failures (`docker run` reference, "Exit status"). */
export const DOCKER_ERROR_EXIT = 125;

const BOOLEAN = new Set([
  '--rm',
  '-i',
  '--interactive',
  '-t',
  '--tty',
  '--init',
  '--privileged',
  '--read-only',
]);
const VALUED = new Set([
  '-v',
  '--volume',
  '-w',
  '--workdir',
  '-e',
  '--env',
  '--entrypoint',
  '-u',
  '--user',
  '--name',
  '--network',
  '--net',
  '--pull',
  '--cpus',
  '-m',
  '--memory',
  '--memory-swap',
  '--shm-size',
  '-c',
  '--cpu-shares',
  '-l',
  '--label',
  '--gpus',
  '--ulimit',
  '--platform',
  '-h',
  '--hostname',
  '--ipc',
  '--cap-add',
  '--cap-drop',
  '--security-opt',
]);

const cliError = (message: string): DockerCommand => ({
  kind: 'error',
  message: `docker: ${message}\nSee 'docker run --help'.`,
  exitCode: DOCKER_ERROR_EXIT,
});

const daemonError = (message: string): DockerCommand => ({
  kind: 'error',
  message: `docker: Error response from daemon: ${message}.`,
  exitCode: DOCKER_ERROR_EXIT,
});

/** `docker <args>`; `hostEnv` gives the caller's variables (for `-e NAME` without a value). */
export function parseDocker(
  args: readonly string[],
  hostEnv: (name: string) => string | undefined,
): DockerCommand {
  const [sub, ...rest] = args;
  if (sub === 'pull' || sub === 'image' || sub === 'version' || sub === 'info') return { kind: 'noop' };
  if (sub !== 'run') {
    return {
      kind: 'error',
      message: `docker: unknown command: docker ${sub ?? ''}\n\nRun 'docker --help' for more information`,
      exitCode: 1,
    };
  }
  const binds: Bind[] = [];
  const volumes: string[] = [];
  const env: Record<string, string> = {};
  let workdir: string | undefined;
  let entrypoint: string | undefined;
  let interactive = false;
  let i = 0;
  const take = (flag: string, value: string): DockerCommand | undefined => {
    if (flag === '-v' || flag === '--volume') {
      const parts = value.split(':');
      const [first, second, opts] = parts;
      if (parts.length > 3 || !first) return daemonError(`invalid volume specification: '${value}'`);
      const target = second ?? first;
      if (!target.startsWith('/')) {
        return daemonError(
          `invalid volume specification: '${value}': invalid mount config for type "volume": invalid mount path: '${target}' mount path must be absolute`,
        );
      }
      const container = resolvePath('/', target);
      if (container === '/')
        return daemonError(
          `invalid volume specification: '${value}': invalid mount config for type "bind": invalid specification: destination can't be '/'`,
        );
      if (second !== undefined && first.startsWith('/')) {
        const readOnly = (opts ?? '').split(',').includes('ro');
        binds.push({ host: resolvePath('/', first), container, readOnly });
      } else volumes.push(container);
    } else if (flag === '-w' || flag === '--workdir') {
      if (!value.startsWith('/'))
        return daemonError(`the working directory '${value}' is invalid, it needs to be an absolute path`);
      workdir = resolvePath('/', value);
    } else if (flag === '-e' || flag === '--env') {
      const eq = value.indexOf('=');
      if (eq === 0 || value === '') return cliError(`invalid environment variable: ${value}`);
      if (eq > 0) env[value.slice(0, eq)] = value.slice(eq + 1);
      else {
        const inherited = hostEnv(value);
        if (inherited !== undefined) env[value] = inherited;
      }
    } else if (flag === '--entrypoint') entrypoint = value;
    return undefined;
  };
  for (; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    // Grouped short booleans (`-it`), or a short valued option glued to its value (`-eK=V`).
    if (!a.startsWith('--') && a.length > 2 && a[2] !== '=') {
      const letters = a.slice(1);
      if ([...letters].every((l) => BOOLEAN.has(`-${l}`))) {
        if (letters.includes('i')) interactive = true;
        continue;
      }
      if (!VALUED.has(a.slice(0, 2))) return cliError(`unknown shorthand flag: '${a[1]}' in ${a}`);
      const failed = take(a.slice(0, 2), a.slice(2));
      if (failed) return failed;
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (BOOLEAN.has(flag)) {
      if (flag === '-i' || flag === '--interactive') interactive = eq < 0 || a.slice(eq + 1) !== 'false';
      continue;
    }
    if (VALUED.has(flag)) {
      let value: string;
      if (eq > 0) value = a.slice(eq + 1);
      else {
        if (i + 1 >= rest.length)
          return cliError(`flag needs an argument: '${flag.replace(/^-+/, '')}' in ${flag}`);
        value = rest[++i]!;
      }
      const failed = take(flag, value);
      if (failed) return failed;
      continue;
    }
    return cliError(`unknown flag: ${flag}`);
  }
  const image = rest[i];
  if (image === undefined) return cliError('"docker run" requires at least 1 argument.');
  const command = rest.slice(i + 1);
  const argv = entrypoint !== undefined ? [entrypoint, ...command] : command;
  return {
    kind: 'run',
    run: { image, argv, binds, volumes, ...(workdir !== undefined ? { workdir } : {}), env, interactive },
  };
}
