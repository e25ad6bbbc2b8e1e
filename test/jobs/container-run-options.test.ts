import { describe, expect, it } from 'vitest';
import { checkRunOptions, splitRunOptions } from '../../shared/model/container-run-options.js';

const user = { admin: false };
const admin = { admin: true };
const problems = (text: string, grant = user) => checkRunOptions(text, grant);

describe('run options word splitting', () => {
  it('splits on whitespace and joins quoted parts into one word', () => {
    expect(splitRunOptions(`  --cpus 2\t-e 'A=b c' --env="X=y z"  -w/app ""`)).toEqual({
      ok: true,
      words: ['--cpus', '2', '-e', 'A=b c', '--env=X=y z', '-w/app', ''],
    });
    expect(splitRunOptions(`"--priv"'ileged'`)).toEqual({ ok: true, words: ['--privileged'] });
    expect(splitRunOptions('')).toEqual({ ok: true, words: [] });
  });

  it('refuses what a shell would expand or treat as an operator', () => {
    const refused = (text: string) => {
      const r = splitRunOptions(text);
      return r.ok ? 'accepted' : r.problem;
    };
    expect(refused('--env "A=$(id)"')).toBe("must not contain '$'");
    expect(refused('--env A=`id`')).toBe("must not contain '`'");
    expect(refused('--env A=\\ b')).toBe("must not contain '\\'");
    expect(refused('--rm; --privileged')).toBe("must not contain ';' unquoted");
    expect(refused('--rm && x')).toBe("must not contain '&' unquoted");
    expect(refused('--rm\n--privileged')).toBe('must not contain control character U+000a');
    expect(refused('--env "A=x\u2003--privileged"')).toBe(
      'must not contain U+2003 (only spaces and tabs separate words)',
    );
    expect(refused('--env "A=b')).toBe('has an unterminated double quote');
    expect(refused("--env 'A=b")).toBe('has an unterminated single quote');
    // Quoted, these are plain characters.
    expect(refused('--env "A=a;b|c*"')).toBe('accepted');
  });

  it('refuses a quoted value that a plain whitespace splitter would read as another option', () => {
    const r = splitRunOptions('--env "A=x --privileged"');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toContain("contains a space followed by '-'");
  });
});

describe('run options policy', () => {
  it('accepts the documented subset in every spelling', () => {
    expect(
      problems(
        [
          '--cpus 1.5 --cpu-shares=512 -c 256 --memory 2g -m512m -m=1g --memory-swap -1',
          '--memory-reservation 1g --shm-size=256m --pids-limit 512 --ulimit nofile=1024:2048',
          '--workdir /app -w/work --env A=1 -e "B=two words" --user 1000:1000 -u 1001',
          '--read-only --init --rm --read-only=false -it --tmpfs /scratch:rw,size=64m,mode=1777',
          '--entrypoint /bin/sh --network none --net=bridge --gpus all --cap-drop ALL',
          '--security-opt no-new-privileges --ipc private --cgroupns private',
        ].join(' '),
      ),
    ).toEqual([]);
  });

  it.each([
    ['--privileged', '--privileged is not allowed: it gives the container every capability'],
    ['"--privileged"', '--privileged is not allowed'],
    ["'--privi'leged", '--privileged is not allowed'],
    ['--privileged=true', '--privileged is not allowed'],
    ['--volume=/:/host', '--volume is not allowed: it mounts storage of the node'],
    ['--volume /:/host', '--volume is not allowed'],
    ['-v/:/h', '-v (--volume) is not allowed: it mounts storage of the node'],
    ['-v /:/h', '-v (--volume) is not allowed'],
    ['-itv/:/h', '-v (--volume) is not allowed'],
    ['--mount type=bind,source=/,target=/h', '--mount is not allowed'],
    ['--volumes-from other', '--volumes-from is not allowed'],
    ['--network host', "--network 'host' shares the node's network namespace"],
    ['--network=host', "--network 'host' shares the node's network namespace"],
    ['--net host', "--net 'host' shares the node's network namespace"],
    ['--network container:abc', "--network 'container:abc' joins another container's network namespace"],
    ['--network my-net', "--network only 'none' or 'bridge' is allowed"],
    ['--pid host', '--pid is not allowed'],
    ['--pid=container:x', '--pid is not allowed'],
    ['--ipc host', "--ipc 'host' shares the node's IPC namespace"],
    ['--ipc=container:x', "--ipc 'container:x' joins another container's IPC namespace"],
    ['--uts host', '--uts is not allowed'],
    ['--userns=host', '--userns is not allowed'],
    ['--cgroupns host', "--cgroupns 'host' shares the node's cgroup namespace"],
    ['--cap-add SYS_ADMIN', '--cap-add is not allowed: it adds Linux capabilities'],
    ['--cap-add=ALL', '--cap-add is not allowed'],
    ['--security-opt seccomp=unconfined', "--security-opt only 'no-new-privileges' is allowed"],
    ['--security-opt apparmor=unconfined', "--security-opt only 'no-new-privileges' is allowed"],
    ['--device /dev/sda', '--device is not allowed: it gives the container a device of the node'],
    ['--device-cgroup-rule "c 1:3 mr"', '--device-cgroup-rule is not allowed'],
    ['--sysctl net.ipv4.ip_forward=1', '--sysctl is not allowed'],
    ['--env-file /etc/secrets', '--env-file is not allowed: it reads a file on the node'],
    ['--cgroup-parent /', '--cgroup-parent is not allowed'],
    ['-p 80:80', '-p (--publish) is not allowed'],
    ['--add-host a:1.2.3.4', '--add-host is not in the allowed subset'],
    ['--Privileged', '--Privileged is not in the allowed subset'],
    ['-x', '-x is not in the allowed subset'],
    ['other-image', "'other-image' is not an option"],
    ['--rm other-image', "'other-image' is not an option"],
    ['-- --rm', "'--' is not an option"],
    ['--env HOME', "--env 'HOME' must be NAME=value"],
    ['-e PATH', "-e (--env) 'PATH' must be NAME=value"],
    ['--user 0', '--user uid or gid 0 (root) is allowed only for tasks with elevationLevel admin'],
    ['-u 0:0', '-u (--user) uid or gid 0 (root)'],
    ['-u1000:0', '-u (--user) uid or gid 0 (root)'],
    ['--user root', "--user 'root' must be a numeric uid or uid:gid"],
    ['--workdir relative', '--workdir must be an absolute path'],
    ['--tmpfs /t:exec,suid', "--tmpfs option 'suid' is not allowed"],
    ['--memory', '--memory needs a value'],
    ['--rm=yes', '--rm is a flag'],
  ])('refuses %s', (text, expected) => {
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
  });

  it('reports every refused option in one string', () => {
    expect(problems('--privileged --rm -v /:/h --cap-add NET_ADMIN')).toEqual([
      "--privileged is not allowed: it gives the container every capability and the node's devices",
      '-v (--volume) is not allowed: it mounts storage of the node into the container (use --tmpfs for scratch space)',
      '--cap-add is not allowed: it adds Linux capabilities to the container',
    ]);
  });

  it('allows uid 0 only for admin tasks, and still refuses escapes for them', () => {
    expect(problems('--user 0:0', admin)).toEqual([]);
    expect(problems('--privileged', admin)).toHaveLength(1);
    expect(problems('-v /:/h', admin)).toHaveLength(1);
  });
});
