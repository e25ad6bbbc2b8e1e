/**
 * The TES 1.1 task body at the door: every rule of shared/model/tes-schema.ts, each with a case that
 * passes and one that fails, so removing a rule fails a test.
 */
import { describe, expect, it } from 'vitest';
import {
  containerPathProblem,
  parseTesTaskRequest,
  SUPPORTED_BACKEND_PARAMETERS,
  TES_LIMITS,
} from '../../../shared/model/tes-schema.js';

type Body = Record<string, unknown>;

const executor = (extra: Body = {}): Body => ({ image: 'ubuntu:22.04', command: ['echo', 'hi'], ...extra });
const task = (extra: Body = {}): Body => ({ executors: [executor()], ...extra });

/** `field: message` lines, as a client reads them. */
function errorsOf(body: unknown): string[] {
  const result = parseTesTaskRequest(body);
  if (result.ok) return [];
  return result.errors.map((e) => `${e.field}: ${e.message}`);
}

function accepted(body: unknown) {
  const result = parseTesTaskRequest(body);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
  return result;
}

const expectRefused = (body: unknown, field: string, message?: RegExp) => {
  const errors = errorsOf(body);
  const hit = errors.find((e) => e.startsWith(`${field}: `));
  expect(hit, `no error on ${field}; got ${JSON.stringify(errors)}`).toBeDefined();
  if (message) expect(hit!.slice(field.length + 2)).toMatch(message);
};

describe('parseTesTaskRequest: shape', () => {
  it('accepts the smallest task and fills in the collections', () => {
    const { request, warnings } = accepted(task());
    expect(request).toStrictEqual({
      inputs: [],
      outputs: [],
      executors: [{ image: 'ubuntu:22.04', command: ['echo', 'hi'] }],
      volumes: [],
      tags: {},
    });
    expect(warnings).toEqual([]);
  });

  it('refuses a body that is not an object', () => {
    for (const body of [null, [], 'task', 42]) {
      expect(errorsOf(body)).toEqual([': must be a JSON object (a tesTask)']);
    }
  });

  it('keeps every field a client may send, under its spec name', () => {
    const body = {
      name: 'n',
      description: 'd',
      inputs: [
        {
          name: 'i',
          description: 'id',
          url: 'https://a.example/x',
          path: '/in/x',
          type: 'FILE',
          streamable: true,
        },
        { path: '/in/c', content: 'hello' },
      ],
      outputs: [
        {
          name: 'o',
          description: 'od',
          url: 'az://acct/out/',
          path: '/out/*.txt',
          path_prefix: '/out/',
          type: 'FILE',
        },
      ],
      resources: {
        cpu_cores: 2,
        preemptible: false,
        ram_gb: 4.5,
        disk_gb: 10,
        zones: ['westeurope-1'],
        backend_parameters: { vm_size: 'Standard_D4s_v5' },
        backend_parameters_strict: false,
      },
      executors: [
        executor({
          workdir: '/work',
          stdin: '/in/c',
          stdout: '/out/stdout',
          stderr: '/out/stderr',
          env: { A: '1', _B2: '' },
          ignore_error: true,
        }),
      ],
      volumes: ['/vol/a'],
      tags: { project: 'x', empty: '' },
    };
    const { request } = accepted(body);
    expect(request).toStrictEqual({
      ...body,
      inputs: [body.inputs[0], { path: '/in/c', content: 'hello', type: 'FILE' }],
    });
  });

  it('names unknown fields at every level, read-only ones aside', () => {
    expect(
      errorsOf({
        ...task({ executors: [executor({ cmd: 'x' })] }),
        foo: 1,
        inputs: [{ path: '/a', url: 'https://x.example/a', mode: 'r' }],
        outputs: [{ path: '/b', url: 'az://acct/c/b', kind: 'x' }],
        resources: { gpu: 1 },
      }),
    ).toEqual(
      expect.arrayContaining([
        'foo: is not a field of TES 1.1',
        'executors[0].cmd: is not a field of TES 1.1',
        'inputs[0].mode: is not a field of TES 1.1',
        'outputs[0].kind: is not a field of TES 1.1',
        'resources.gpu: is not a field of TES 1.1',
      ]),
    );
  });

  it('ignores the read-only fields id, state, logs and creation_time, whatever they hold', () => {
    const { request } = accepted(
      task({ id: 'mine', state: 'COMPLETE', logs: [{ bogus: true }], creation_time: 7 }),
    );
    expect(Object.keys(request).sort()).toEqual(['executors', 'inputs', 'outputs', 'tags', 'volumes']);
  });

  it('gives the field path and JSON pointer of an error', () => {
    const result = parseTesTaskRequest(task({ executors: [executor(), executor({ image: '' })] }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({
      field: 'executors[1].image',
      pointer: '/executors/1/image',
      message: 'must not be empty',
    });
  });

  it('reports a missing or mistyped field plainly', () => {
    expectRefused({}, 'executors', /^is required$/);
    expectRefused(task({ executors: [{ command: ['x'] }] }), 'executors[0].image', /^is required$/);
    expectRefused(
      task({ executors: [executor({ command: 'echo hi' })] }),
      'executors[0].command',
      /^must be an array$/,
    );
    expectRefused(
      task({ executors: [executor({ ignore_error: 'yes' })] }),
      'executors[0].ignore_error',
      /true or false/,
    );
  });

  it('refuses __proto__ as a name instead of losing it', () => {
    expectRefused(task({ tags: JSON.parse('{"__proto__": "x"}') }), 'tags.__proto__', /not accepted/);
  });

  it('answers a deeply nested body with an error, not a stack overflow', () => {
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    expect(errorsOf(task({ extra: deep }))).toEqual(['extra: is not a field of TES 1.1']);
    expectRefused(task({ tags: { k: deep } }), 'tags.k', /string/);
  });

  it('caps the number of errors returned', () => {
    const inputs = Array.from({ length: 1000 }, () => ({ path: 'relative' }));
    const errors = errorsOf(task({ inputs }));
    expect(errors.length).toBeLessThanOrEqual(101);
    expect(errors.at(-1)).toMatch(/more invalid fields not listed/);
  });
});

describe('parseTesTaskRequest: null counts as absent', () => {
  it('drops null properties at every level, as generated clients send them', () => {
    const body = {
      name: null,
      description: null,
      inputs: [
        { name: null, url: 'https://x.example/a', path: '/a', type: null, content: null, streamable: null },
      ],
      outputs: null,
      resources: {
        cpu_cores: null,
        preemptible: null,
        ram_gb: null,
        disk_gb: null,
        zones: null,
        backend_parameters: null,
        backend_parameters_strict: null,
      },
      executors: [
        executor({
          workdir: null,
          stdin: null,
          stdout: null,
          stderr: null,
          env: { A: '1', B: null },
          ignore_error: null,
        }),
      ],
      volumes: null,
      tags: { a: 'x', b: null },
      id: null,
      state: null,
      logs: null,
      creation_time: null,
      state_description: null,
    };
    const { request } = accepted(body);
    expect(request).toStrictEqual({
      inputs: [{ url: 'https://x.example/a', path: '/a', type: 'FILE' }],
      outputs: [],
      resources: {},
      executors: [{ image: 'ubuntu:22.04', command: ['echo', 'hi'], env: { A: '1' } }],
      volumes: [],
      tags: { a: 'x' },
    });
  });

  it('keeps a null array element as an error (argv positions matter)', () => {
    expectRefused(
      task({ executors: [executor({ command: ['echo', null] })] }),
      'executors[0].command[1]',
      /string/,
    );
  });

  it('still requires executors when they are null', () => {
    expectRefused({ executors: null }, 'executors', /^is required$/);
  });
});

describe('parseTesTaskRequest: executors', () => {
  it('takes 1 to 50 executors', () => {
    expect(errorsOf(task({ executors: Array.from({ length: 50 }, () => executor()) }))).toEqual([]);
    expectRefused(task({ executors: [] }), 'executors', /at least 1/);
    expectRefused(
      task({ executors: Array.from({ length: 51 }, () => executor()) }),
      'executors',
      /at most 50/,
    );
  });

  it('checks the image', () => {
    expect(errorsOf(task({ executors: [executor({ image: 'a'.repeat(1024) })] }))).toEqual([]);
    expectRefused(task({ executors: [executor({ image: '' })] }), 'executors[0].image', /not be empty/);
    expectRefused(
      task({ executors: [executor({ image: 'a'.repeat(1025) })] }),
      'executors[0].image',
      /1,024/,
    );
    expectRefused(
      task({ executors: [executor({ image: 'ubuntu latest' })] }),
      'executors[0].image',
      /whitespace/,
    );
    expectRefused(
      task({ executors: [executor({ image: '--privileged' })] }),
      'executors[0].image',
      /start with -/,
    );
  });

  it('takes 1 to 1000 command arguments', () => {
    expect(errorsOf(task({ executors: [executor({ command: Array(1000).fill('x') })] }))).toEqual([]);
    expectRefused(task({ executors: [executor({ command: [] })] }), 'executors[0].command', /at least 1/);
    expectRefused(
      task({ executors: [executor({ command: Array(1001).fill('x') })] }),
      'executors[0].command',
      /at most 1,000/,
    );
  });

  it('checks environment names and their number', () => {
    const env = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'x']));
    expect(errorsOf(task({ executors: [executor({ env: env(200) })] }))).toEqual([]);
    expectRefused(task({ executors: [executor({ env: env(201) })] }), 'executors[0].env', /at most 200/);
    for (const name of ['1A', 'A-B', 'A B', '']) {
      expectRefused(
        task({ executors: [executor({ env: { [name]: 'x' } })] }),
        `executors[0].env.${name}`,
        /letters, digits/,
      );
    }
    expectRefused(task({ executors: [executor({ env: { A: 1 } })] }), 'executors[0].env.A', /string/);
  });

  it('wants absolute container paths for workdir, stdin, stdout and stderr', () => {
    for (const field of ['workdir', 'stdin', 'stdout', 'stderr']) {
      expect(errorsOf(task({ executors: [executor({ [field]: '/data/x' })] }))).toEqual([]);
      expectRefused(
        task({ executors: [executor({ [field]: 'data/x' })] }),
        `executors[0].${field}`,
        /absolute/,
      );
      expectRefused(
        task({ executors: [executor({ [field]: '/data/../x' })] }),
        `executors[0].${field}`,
        /\.\./,
      );
    }
    // The working directory may be the root; a file cannot.
    expect(errorsOf(task({ executors: [executor({ workdir: '/' })] }))).toEqual([]);
    expectRefused(task({ executors: [executor({ stdout: '/' })] }), 'executors[0].stdout', /not \/ itself/);
  });
});

describe('container paths', () => {
  const check = (p: string) => containerPathProblem(p, { allowRoot: false });

  it('are absolute POSIX paths without .. segments or control characters, at most 1024 characters', () => {
    expect(check('/data/file1')).toBeUndefined();
    expect(check('/data/./x')).toBeUndefined();
    expect(check('/data/..x/x..')).toBeUndefined();
    expect(check(`/${'a'.repeat(1023)}`)).toBeUndefined();
    expect(check(`/${'a'.repeat(1024)}`)).toMatch(/at most 1024/);
    expect(check('')).toMatch(/empty/);
    expect(check('data/file1')).toMatch(/absolute/);
    expect(check('/data/../etc/passwd')).toMatch(/\.\./);
    expect(check('/data/..')).toMatch(/\.\./);
    expect(check('/data/a\u0000b')).toMatch(/control/);
    expect(check('/data/a\nb')).toMatch(/control/);
    expect(check('/')).toMatch(/not \/ itself/);
    expect(containerPathProblem('/', { allowRoot: true })).toBeUndefined();
  });

  it('hold for inputs, outputs and volumes', () => {
    expectRefused(
      task({ inputs: [{ url: 'https://x.example/a', path: 'a' }] }),
      'inputs[0].path',
      /absolute/,
    );
    expectRefused(task({ outputs: [{ url: 'az://acct/c/a', path: '/a/../b' }] }), 'outputs[0].path', /\.\./);
    expectRefused(task({ volumes: ['/v\n'] }), 'volumes[0]', /control/);
    expectRefused(
      task({ inputs: [{ url: 'https://x.example/a', path: `/${'a'.repeat(1024)}` }] }),
      'inputs[0].path',
      /1024/,
    );
  });
});

describe('parseTesTaskRequest: inputs', () => {
  const url = 'https://x.example/a';

  it('defaults type to FILE and keeps DIRECTORY', () => {
    const { request } = accepted(
      task({
        inputs: [
          { url, path: '/a' },
          { url, path: '/d', type: 'DIRECTORY' },
        ],
      }),
    );
    expect(request.inputs.map((i) => i.type)).toEqual(['FILE', 'DIRECTORY']);
    expectRefused(task({ inputs: [{ url, path: '/a', type: 'file' }] }), 'inputs[0].type', /FILE, DIRECTORY/);
  });

  it('needs a url unless content is set', () => {
    expectRefused(task({ inputs: [{ path: '/a' }] }), 'inputs[0].url', /required unless content/);
    expect(accepted(task({ inputs: [{ path: '/a', content: 'x' }] })).request.inputs[0]).toStrictEqual({
      path: '/a',
      type: 'FILE',
      content: 'x',
    });
    // Empty content is an empty file...
    expect(accepted(task({ inputs: [{ path: '/a', content: '' }] })).request.inputs[0]!.content).toBe('');
    // ...unless a url is given: the spec ignores url only when content is not empty.
    expect(accepted(task({ inputs: [{ path: '/a', content: '', url }] })).request.inputs[0]).toStrictEqual({
      path: '/a',
      type: 'FILE',
      url,
    });
  });

  it('refuses content for a directory', () => {
    expectRefused(
      task({ inputs: [{ path: '/d', content: 'x', type: 'DIRECTORY' }] }),
      'inputs[0].content',
      /FILE/,
    );
  });

  it('limits content to 256 KiB each and 1 MiB in all, in UTF-8 bytes', () => {
    const kib = 1024;
    expect(errorsOf(task({ inputs: [{ path: '/a', content: 'x'.repeat(256 * kib) }] }))).toEqual([]);
    expectRefused(
      task({ inputs: [{ path: '/a', content: 'x'.repeat(256 * kib + 1) }] }),
      'inputs[0].content',
      /262,144/,
    );
    // 'é' is two bytes: 128 Ki characters fit, one more does not.
    expect(errorsOf(task({ inputs: [{ path: '/a', content: 'é'.repeat(128 * kib) }] }))).toEqual([]);
    expectRefused(
      task({ inputs: [{ path: '/a', content: 'é'.repeat(128 * kib + 1) }] }),
      'inputs[0].content',
    );
    const quarter = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ path: `/c${i}`, content: 'x'.repeat(256 * kib) }));
    expect(errorsOf(task({ inputs: quarter(4) }))).toEqual([]);
    expectRefused(task({ inputs: quarter(5) }), 'inputs', /1,048,576/);
  });

  it('refuses two inputs at one path', () => {
    expectRefused(
      task({
        inputs: [
          { url, path: '/a' },
          { url, path: '/b' },
          { url, path: '/a' },
        ],
      }),
      'inputs[2].path',
      /inputs\[0\]/,
    );
  });

  it('takes at most 1000 inputs', () => {
    const inputs = (n: number) => Array.from({ length: n }, (_, i) => ({ url, path: `/in/${i}` }));
    expect(errorsOf(task({ inputs: inputs(1000) }))).toEqual([]);
    expectRefused(task({ inputs: inputs(1001) }), 'inputs', /at most 1,000/);
  });

  it('accepts URL schemes Slotwise cannot fetch (they fail later, with a system log)', () => {
    expect(
      errorsOf(
        task({
          inputs: [
            { url: 's3://bucket/key', path: '/a' },
            { url: 'gs://b/k', path: '/b' },
          ],
        }),
      ),
    ).toEqual([]);
    expectRefused(task({ inputs: [{ url: '', path: '/a' }] }), 'inputs[0].url', /empty/);
    expectRefused(
      task({ inputs: [{ url: 'https://x.example/a\nb', path: '/a' }] }),
      'inputs[0].url',
      /control/,
    );
  });
});

describe('parseTesTaskRequest: outputs', () => {
  const url = 'az://acct/results/out';

  it('needs url and path, and defaults type to FILE', () => {
    expectRefused(task({ outputs: [{ path: '/a' }] }), 'outputs[0].url', /required/);
    expectRefused(task({ outputs: [{ url }] }), 'outputs[0].path', /required/);
    expect(accepted(task({ outputs: [{ url, path: '/a' }] })).request.outputs[0]).toStrictEqual({
      url,
      path: '/a',
      type: 'FILE',
    });
  });

  it('needs path_prefix with wildcards, as a literal prefix of the path', () => {
    for (const path of ['/out/*.txt', '/out/file?.txt', '/out/[ab].txt']) {
      expectRefused(
        task({ outputs: [{ url, path }] }),
        'outputs[0].path_prefix',
        /required when path has wildcards/,
      );
      expect(errorsOf(task({ outputs: [{ url, path, path_prefix: '/out/' }] }))).toEqual([]);
    }
    expectRefused(
      task({ outputs: [{ url, path: '/out/*.txt', path_prefix: '/other/' }] }),
      'outputs[0].path_prefix',
      /prefix of path/,
    );
    expectRefused(
      task({ outputs: [{ url, path: '/out/*.txt', path_prefix: '/out/*' }] }),
      'outputs[0].path_prefix',
      /wildcards/,
    );
    // Without wildcards a prefix is allowed (and ignored by the spec), still a prefix of the path.
    expect(errorsOf(task({ outputs: [{ url, path: '/out/a.txt', path_prefix: '/out/' }] }))).toEqual([]);
  });

  it('takes at most 1000 outputs', () => {
    const outputs = (n: number) => Array.from({ length: n }, (_, i) => ({ url, path: `/out/${i}` }));
    expect(errorsOf(task({ outputs: outputs(1000) }))).toEqual([]);
    expectRefused(task({ outputs: outputs(1001) }), 'outputs', /at most 1,000/);
  });
});

describe('parseTesTaskRequest: volumes', () => {
  it('takes at most 100 absolute paths, each once, none an input path', () => {
    const volumes = (n: number) => Array.from({ length: n }, (_, i) => `/vol/${i}`);
    expect(errorsOf(task({ volumes: volumes(100) }))).toEqual([]);
    expectRefused(task({ volumes: volumes(101) }), 'volumes', /at most 100/);
    expectRefused(task({ volumes: ['vol'] }), 'volumes[0]', /absolute/);
    expectRefused(task({ volumes: ['/v', '/w', '/v'] }), 'volumes[2]', /volumes\[0\]/);
    expectRefused(
      task({ volumes: ['/v'], inputs: [{ url: 'https://x.example/a', path: '/v' }] }),
      'volumes[0]',
      /inputs\[0\]/,
    );
  });
});

describe('parseTesTaskRequest: tags, name, description', () => {
  it('takes at most 100 tags with keys of 1 to 256 and values of at most 1024 characters', () => {
    const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, '']));
    expect(errorsOf(task({ tags: tags(100) }))).toEqual([]);
    expectRefused(task({ tags: tags(101) }), 'tags', /at most 100/);
    expectRefused(task({ tags: { '': 'x' } }), 'tags.', /not be empty/);
    expect(errorsOf(task({ tags: { ['k'.repeat(256)]: 'v'.repeat(1024) } }))).toEqual([]);
    expectRefused(task({ tags: { ['k'.repeat(257)]: 'x' } }), `tags.${'k'.repeat(257)}`, /256/);
    expectRefused(task({ tags: { k: 'v'.repeat(1025) } }), 'tags.k', /1,024/);
    expectRefused(task({ tags: { k: 1 } }), 'tags.k', /string/);
  });

  it('limits the name to 1024 characters and the description to 64 KiB', () => {
    expect(errorsOf(task({ name: 'n'.repeat(1024), description: 'd'.repeat(64 * 1024) }))).toEqual([]);
    expectRefused(task({ name: 'n'.repeat(1025) }), 'name', /1,024/);
    expectRefused(task({ description: 'd'.repeat(64 * 1024 + 1) }), 'description', /65,536 bytes/);
    expectRefused(task({ description: 'é'.repeat(32 * 1024 + 1) }), 'description', /65,536 bytes/);
  });

  it('limits the whole task so that its document fits one Cosmos item', () => {
    // Every field within its own limit, but a megabyte of content and 1000 long descriptions.
    const inputs = [
      ...Array.from({ length: 4 }, (_, i) => ({ path: `/c${i}`, content: 'x'.repeat(256 * 1024) })),
      ...Array.from({ length: 996 }, (_, i) => ({
        url: 'https://x.example/a',
        path: `/u${i}`,
        description: 'd'.repeat(300),
      })),
    ];
    expect(errorsOf(task({ inputs }))).toEqual([
      expect.stringMatching(/^: the task takes [\d,]+ bytes of JSON; the limit is 1,310,720$/),
    ]);
  });
});

describe('parseTesTaskRequest: resources', () => {
  const withResources = (resources: Body) => task({ resources });

  it('takes cpu_cores as an integer from 1 to 1024', () => {
    expect(errorsOf(withResources({ cpu_cores: 1024 }))).toEqual([]);
    expectRefused(withResources({ cpu_cores: 0 }), 'resources.cpu_cores', /at least 1/);
    expectRefused(withResources({ cpu_cores: 1025 }), 'resources.cpu_cores', /at most 1,024/);
    expectRefused(withResources({ cpu_cores: 1.5 }), 'resources.cpu_cores', /integer/);
  });

  it('takes ram_gb and disk_gb above zero, preemptible as a boolean, zones as strings', () => {
    expect(
      errorsOf(withResources({ ram_gb: 0.5, disk_gb: 0.1, preemptible: true, zones: ['1', '2'] })),
    ).toEqual([]);
    expectRefused(withResources({ ram_gb: 0 }), 'resources.ram_gb', /greater than 0/);
    expectRefused(withResources({ disk_gb: -1 }), 'resources.disk_gb', /greater than 0/);
    expectRefused(withResources({ ram_gb: '4' }), 'resources.ram_gb', /number/);
    expectRefused(withResources({ preemptible: 'true' }), 'resources.preemptible', /true or false/);
    expectRefused(withResources({ zones: 'us-west-1' }), 'resources.zones', /array/);
  });

  it('exports the supported backend parameters', () => {
    expect(SUPPORTED_BACKEND_PARAMETERS).toEqual(['vm_size']);
  });

  it('matches backend_parameters keys ignoring case and stores them lower-cased', () => {
    const { request, warnings } = accepted(
      withResources({ backend_parameters: { VM_Size: 'Standard_D8s_v5' } }),
    );
    expect(request.resources?.backend_parameters).toStrictEqual({ vm_size: 'Standard_D8s_v5' });
    expect(warnings).toEqual([]);
  });

  it('drops unsupported keys with a warning, never storing them', () => {
    const { request, warnings } = accepted(
      withResources({ backend_parameters: { foo: '1', vm_size: 'Standard_D2s_v5', VmSize: 'x' } }),
    );
    expect(request.resources?.backend_parameters).toStrictEqual({ vm_size: 'Standard_D2s_v5' });
    expect(warnings).toEqual([
      "backend_parameters: 'foo' is not supported by Slotwise and was ignored",
      "backend_parameters: 'VmSize' is not supported by Slotwise and was ignored (did you mean vm_size?)",
    ]);
    expect(JSON.stringify(request)).not.toMatch(/foo|VmSize/);
  });

  it('refuses unsupported keys, each by name, when backend_parameters_strict is true', () => {
    expect(
      errorsOf(
        withResources({
          backend_parameters: { foo: '1', Bar: '2', vm_size: 'x' },
          backend_parameters_strict: true,
        }),
      ),
    ).toEqual([
      'resources.backend_parameters.foo: is not supported by Slotwise (supported: vm_size), and backend_parameters_strict is true',
      'resources.backend_parameters.Bar: is not supported by Slotwise (supported: vm_size), and backend_parameters_strict is true',
    ]);
    const strictOk = accepted(
      withResources({ backend_parameters: { VM_SIZE: 'x' }, backend_parameters_strict: true }),
    );
    expect(strictOk.request.resources).toStrictEqual({
      backend_parameters: { vm_size: 'x' },
      backend_parameters_strict: true,
    });
    // Not strict (false or absent): the same key is a warning.
    expect(
      accepted(withResources({ backend_parameters: { foo: '1' }, backend_parameters_strict: false }))
        .warnings,
    ).toHaveLength(1);
  });

  it('refuses two spellings of one key with different values', () => {
    expectRefused(
      withResources({ backend_parameters: { vm_size: 'a', VM_SIZE: 'b' } }),
      'resources.backend_parameters.VM_SIZE',
      /case-insensitive/,
    );
    expect(errorsOf(withResources({ backend_parameters: { vm_size: 'a', VM_SIZE: 'a' } }))).toEqual([]);
  });

  it('bounds backend_parameters and their values', () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']));
    expectRefused(withResources({ backend_parameters: many }), 'resources.backend_parameters', /at most 100/);
    expectRefused(
      withResources({ backend_parameters: { vm_size: 4 } }),
      'resources.backend_parameters.vm_size',
      /string/,
    );
  });

  it('exports the limits it enforces', () => {
    expect(TES_LIMITS).toMatchObject({
      maxExecutors: 50,
      maxCommandArgs: 1000,
      maxEnvEntries: 200,
      maxPathLength: 1024,
      maxInputs: 1000,
      maxOutputs: 1000,
      maxVolumes: 100,
      maxContentBytes: 256 * 1024,
      maxTotalContentBytes: 1024 * 1024,
      maxTags: 100,
    });
    expect(TES_LIMITS.maxContentBytes).toBeGreaterThanOrEqual(128 * 1024);
  });
});
