/**
 * The request's outputs, results store reads, job preparation and release, logs and fan-in at the
 * door: every bad value is refused naming its field, good ones pass.
 */
import { describe, expect, it } from 'vitest';
import { MAX_DEPENDENCY_ID_CHARACTERS } from '../../shared/model/validate-dependencies.js';
import { type ValidationPolicy, validateJobRequest } from '../../shared/model/validate-request.js';

const policy: ValidationPolicy = { checkCallbackUrl: () => undefined };
const pool = { vmSize: 'standard_d4s_v3' };
const sas = 'sv=2025-01-05&sp=cw&sig=abc%2Bdef';

function errorsOf(body: unknown, with_: Partial<ValidationPolicy> = {}): string[] {
  const result = validateJobRequest(body, { ...policy, ...with_ });
  return result.ok ? [] : result.errors.map((e) => `${e.field}: ${e.message}`);
}

const task = (extra: object) => ({ pool, tasks: [{ id: 't1', commandLine: 'x', ...extra }] });
const output = (o: object) => task({ outputFiles: [o] });

describe('output files', () => {
  it('accepts the three destinations and every upload condition', () => {
    expect(
      errorsOf(
        task({
          outputFiles: [
            { filePattern: 'result.txt' },
            {
              filePattern: '**/*.csv',
              destination: { results: { path: 'tables' } },
              uploadCondition: 'taskSuccess',
            },
            {
              filePattern: '../std*.txt',
              destination: {
                containerUrl: `https://acct.blob.core.windows.net/outputs?${sas}`,
                path: 'run-1/logs',
              },
              uploadCondition: 'taskFailure',
            },
          ],
        }),
      ),
    ).toEqual([]);
  });

  it.each([
    [{ filePattern: '' }, 'tasks[0].outputFiles[0].filePattern: must not be empty'],
    [
      { filePattern: 'x'.repeat(1025) },
      'tasks[0].outputFiles[0].filePattern: must be at most 1024 characters',
    ],
    [
      { filePattern: '/etc/passwd' },
      "tasks[0].outputFiles[0].filePattern: must be relative to the task's working directory (no leading / or drive letter)",
    ],
    [
      { filePattern: '../../other/x' },
      "tasks[0].outputFiles[0].filePattern: may start with one ../ (the task's directory, where stdout.txt and stderr.txt are) but has no other . or .. segments",
    ],
    [
      { filePattern: 'a/../../x' },
      "tasks[0].outputFiles[0].filePattern: may start with one ../ (the task's directory, where stdout.txt and stderr.txt are) but has no other . or .. segments",
    ],
    [
      { filePattern: '$AZ_BATCH_NODE_ROOT_DIR/x' },
      "tasks[0].outputFiles[0].filePattern: must not contain $ or %: Batch expands environment variables in patterns, which could reach outside the task's directory",
    ],
    [
      { filePattern: 'out[abc' },
      'tasks[0].outputFiles[0].filePattern: has a [ without its ] (Batch patterns use [abc], [a-c] and [!abc])',
    ],
    [
      { filePattern: '*.{csv,txt}' },
      'tasks[0].outputFiles[0].filePattern: must not use {a,b} alternatives: Batch patterns have none',
    ],
    [{ filePattern: 'out/' }, 'tasks[0].outputFiles[0].filePattern: must name files, not end with /'],
    [{ filePattern: 'a\\b' }, 'tasks[0].outputFiles[0].filePattern: must use / between folders, not \\'],
    [{ filePattern: 'a\nb' }, 'tasks[0].outputFiles[0].filePattern: must not contain control characters'],
  ])('refuses pattern %#', (o, message) => {
    expect(errorsOf(output(o))).toEqual([message]);
  });

  it.each([
    ['../up', 'must not contain . or .. segments'],
    ['/abs', 'must be relative (no leading /)'],
    ['a//b', 'must not contain empty segments (// or a trailing /)'],
    ['a/', 'must not contain empty segments (// or a trailing /)'],
    ['a.', 'must not end with a dot (Blob storage drops it)'],
    ['t1/$TaskLog/stdout.txt', "must not write into a $TaskLog folder (kept for the tasks' logs)"],
    ['x'.repeat(960), 'must be at most 959 characters'],
    [Array.from({ length: 255 }, () => 'a').join('/'), 'must have at most 254 segments (Blob storage)'],
  ])('refuses results path %#', (path, message) => {
    expect(errorsOf(output({ filePattern: 'x', destination: { results: { path } } }))).toEqual([
      `tasks[0].outputFiles[0].destination.results.path: ${message}`,
    ]);
  });

  it.each([
    ['http://acct.blob.core.windows.net/c', 'must be an https URL'],
    ['ftp://acct.blob.core.windows.net/c', 'must be an http(s) URL'],
    [
      'https://user:pw@acct.blob.core.windows.net/c',
      'must not carry a user name or password (put the SAS in the query)',
    ],
    [
      'https://acct.blob.core.windows.net/',
      'must name a container: https://<account>.blob.core.windows.net/<container> (give a folder or blob name in path)',
    ],
    [
      'https://acct.blob.core.windows.net/c/folder',
      'must name a container: https://<account>.blob.core.windows.net/<container> (give a folder or blob name in path)',
    ],
    [
      'https://acct.blob.core.windows.net/Outputs',
      "names container 'Outputs', but container names are 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
    ],
    [
      'https://acct.blob.core.windows.net/a--b',
      "names container 'a--b', but container names are 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
    ],
    [
      'https://acct.blob.core.windows.net/ab',
      "names container 'ab', but container names are 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
    ],
    ['https://acct.blob.core.windows.net/c#x', 'must not have a #fragment'],
  ])('refuses the container URL %s', (containerUrl, message) => {
    expect(errorsOf(output({ filePattern: 'x', destination: { containerUrl } }))).toEqual([
      `tasks[0].outputFiles[0].destination.containerUrl: ${message}`,
    ]);
  });

  it('takes http to a loopback host only with the local switch, path-style as Azurite serves it', () => {
    const local = output({
      filePattern: 'x',
      destination: { containerUrl: 'http://127.0.0.1:10000/devstoreaccount1/outputs' },
    });
    expect(errorsOf(local)).toEqual([
      'tasks[0].outputFiles[0].destination.containerUrl: must be an https URL',
    ]);
    expect(errorsOf(local, { allowHttpLoopbackStorage: true })).toEqual([]);
    const remote = output({ filePattern: 'x', destination: { containerUrl: 'http://example.com/outputs' } });
    expect(errorsOf(remote, { allowHttpLoopbackStorage: true })).toEqual([
      'tasks[0].outputFiles[0].destination.containerUrl: must be an https URL',
    ]);
  });

  it('names the destination that fits neither shape, and the upload condition', () => {
    expect(errorsOf(output({ filePattern: 'x', destination: {} }))).toEqual([
      'tasks[0].outputFiles[0].destination: must be { "containerUrl", "path"?, "identity"? } or { "results": { "path"? } }',
    ]);
    expect(
      errorsOf(output({ filePattern: 'x', destination: { results: {}, containerUrl: 'https://a.b/c' } })),
    ).toEqual([
      'tasks[0].outputFiles[0].destination: must be { "containerUrl", "path"?, "identity"? } or { "results": { "path"? } }',
    ]);
    const [condition] = errorsOf(output({ filePattern: 'x', uploadCondition: 'always' }));
    expect(condition).toMatch(/^tasks\[0\]\.outputFiles\[0\]\.uploadCondition: /);
  });

  it('takes at most 20 outputs per task', () => {
    const outputFiles = Array.from({ length: 21 }, (_, i) => ({ filePattern: `f${i}` }));
    expect(errorsOf(task({ outputFiles }))).toEqual([
      'tasks[0].outputFiles: at most 20 output files per task',
    ]);
    expect(errorsOf(task({ outputFiles: outputFiles.slice(0, 20) }))).toEqual([]);
  });

  it('checks a sweep template after substitution: plain values only where they place files', () => {
    const sweep = (outputFiles: object[], parameters: object) => ({
      pool,
      sweep: {
        idTemplate: 's{n}',
        commandLine: 'x',
        outputFiles,
        parameters: { n: { from: 1, to: 3 }, ...parameters },
      },
    });
    expect(
      errorsOf(
        sweep([{ filePattern: 'out-{n}.txt', destination: { results: { path: 'r/{n}/{name}' } } }], {
          name: ['a', 'b'],
        }),
      ),
    ).toEqual([
      // idTemplate lacks {name}, which has two values
      'sweep.idTemplate: must contain {name} so that task ids are unique',
    ]);
    expect(
      errorsOf(
        sweep([{ filePattern: 'in/{name}/x', destination: { results: { path: 'r/{name}' } } }], {
          name: ['ok', '..'],
        }),
      ),
    ).toEqual(
      expect.arrayContaining([
        "sweep.outputFiles[0].filePattern: uses {name}, whose value '..' is not a plain name (no /, \\, $, %, control characters, not empty or only dots)",
        "sweep.outputFiles[0].destination.results.path: uses {name}, whose value '..' is not a plain name (no /, \\, $, %, control characters, not empty or only dots)",
      ]),
    );
    expect(
      errorsOf({
        pool,
        sweep: {
          idTemplate: 's{n}',
          commandLine: 'x',
          outputFiles: [{ filePattern: 'x', destination: { results: { path: `${'p'.repeat(900)}{v}` } } }],
          parameters: { n: { from: 1, to: 2 }, v: ['y'.repeat(100)] },
        },
      }),
    ).toEqual([
      'sweep.outputFiles[0].destination.results.path: renders up to 1000 characters after substitution (the limit is 959)',
    ]);
  });
});

describe('reading from the results store', () => {
  it('accepts a prefix of this job or another job of the tenant', () => {
    expect(
      errorsOf(
        task({
          resourceFiles: [
            { fromResults: { prefix: 'results/' }, filePath: 'in' },
            { fromResults: { prefix: 'model.bin', job: 'training-7' } },
            { fromResults: { prefix: '' } },
          ],
        }),
      ),
    ).toEqual([]);
  });

  it.each([
    [
      { fromResults: { prefix: '../other-job/x' } },
      'tasks[0].resourceFiles[0].fromResults.prefix: must not contain . or .. segments',
    ],
    [
      { fromResults: { prefix: '/x' } },
      'tasks[0].resourceFiles[0].fromResults.prefix: must be relative to the job folder (no leading /)',
    ],
    [
      { fromResults: { prefix: 'a//b' } },
      'tasks[0].resourceFiles[0].fromResults.prefix: must not contain empty segments (//)',
    ],
    [
      { fromResults: { prefix: 'x', job: 'bad id' } },
      'tasks[0].resourceFiles[0].fromResults.job: may contain only letters, digits, hyphens and underscores',
    ],
    [
      { fromResults: { prefix: 'x', tenant: 'other' } },
      'tasks[0].resourceFiles[0].fromResults: unknown property tenant',
    ],
    [
      { nothing: true },
      'tasks[0].resourceFiles[0]: must be { "httpUrl", "filePath", "identity"? }, { "storageContainerUrl", "blobPrefix"?, "filePath"?, "identity"? } or { "fromResults": { "prefix", "job"? }, "filePath"? }',
    ],
  ])('refuses %j', (file, message) => {
    expect(errorsOf(task({ resourceFiles: [file] }))).toEqual([message]);
  });
});

describe('job preparation, release and logs', () => {
  it('accepts them, and refuses a release longer than 15 minutes', () => {
    const body = {
      pool,
      tasks: [{ id: 't1', commandLine: 'x' }],
      keepLogs: 'taskFailure',
      jobPreparation: {
        commandLine: '/bin/sh -c "tar xf ref.tar"',
        resourceFiles: [
          { httpUrl: `https://acct.blob.core.windows.net/in/ref.tar?${sas}`, filePath: 'ref.tar' },
        ],
        environment: { MODE: 'fast' },
        waitForSuccess: true,
      },
      jobRelease: { commandLine: 'rm -rf scratch', maxWallClockTime: 'PT15M' },
    };
    expect(errorsOf(body)).toEqual([]);
    expect(errorsOf({ ...body, jobRelease: { commandLine: 'x', maxWallClockTime: 'PT15M1S' } })).toEqual([
      'jobRelease.maxWallClockTime: must be at most PT15M: Batch runs a job release task for 15 minutes at most',
    ]);
    expect(errorsOf({ ...body, jobRelease: { commandLine: 'x', maxWallClockTime: 'P1M' } })).toHaveLength(1);
    expect(errorsOf({ ...body, jobRelease: {} })[0]).toMatch(/^jobRelease\.commandLine: /);
    expect(errorsOf({ ...body, keepLogs: 'all' })[0]).toMatch(/^keepLogs: /);
    expect(errorsOf({ ...body, jobPreparation: { waitForSuccess: 'yes' } })[0]).toMatch(
      /^jobPreparation\.waitForSuccess: /,
    );
    expect(errorsOf({ ...body, jobPreparation: { run: 'x' } })).toEqual([
      'jobPreparation: unknown property run',
    ]);
  });

  it('keeps Batch’s preparation and release ids free', () => {
    const body = { pool, jobRelease: { commandLine: 'x' } };
    expect(errorsOf({ ...body, tasks: [{ id: 'JobPreparation', commandLine: 'x' }] })).toEqual([
      "tasks[0].id: 'JobPreparation' is the id of the job's preparation task in Batch",
    ]);
    expect(
      errorsOf({
        ...body,
        sweep: { idTemplate: 'job{w}', commandLine: 'x', parameters: { w: ['a', 'release'] } },
      }),
    ).toEqual(["sweep.idTemplate: renders the id 'jobrelease', which Batch gives the job's release task"]);
    expect(errorsOf({ pool, tasks: [{ id: 'jobrelease', commandLine: 'x' }] })).toEqual([]);
  });

  it('counts the results store URLs a task will carry against its size', () => {
    // 780,000 bytes of command environment fit alone, but not with 20 outputs' resolved URLs.
    const big = { A: 'a'.repeat(30_000) };
    const environment = Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`V${i}`, big.A]));
    const outputFiles = Array.from({ length: 20 }, (_, i) => ({ filePattern: `f${i}` }));
    expect(errorsOf(task({ environment }))).toEqual([]);
    expect(errorsOf(task({ environment, outputFiles }))[0]).toMatch(
      /^tasks\[0\]: takes 8\d\d,\d{3} bytes of JSON/,
    );
    expect(errorsOf({ ...task({ environment, outputFiles }), keepLogs: 'none' })[0]).toMatch(
      /^tasks\[0\]: takes/,
    );
  });
});

describe('fan-in over the sweep', () => {
  const sweep = {
    idTemplate: 'frame-{n}',
    commandLine: 'render {n}',
    parameters: { n: { from: 1, to: 200 } },
  };

  it('accepts a merge task depending on the sweep, and a sweep depending on an explicit task', () => {
    expect(
      errorsOf({
        pool,
        tasks: [
          { id: 'setup', commandLine: 'x' },
          { id: 'merge', commandLine: 'merge', dependsOn: { sweep: true, taskIds: ['setup'] } },
        ],
        sweep: { ...sweep, dependsOn: { taskIds: ['setup'] } },
      }),
    ).toEqual([]);
  });

  it('refuses fan-in without a sweep, digit-only ids and ranges beside it', () => {
    expect(errorsOf({ pool, tasks: [{ id: 'm', commandLine: 'x', dependsOn: { sweep: true } }] })).toEqual([
      'tasks[0].dependsOn.sweep: the job has no sweep',
    ]);
    expect(
      errorsOf({
        pool,
        tasks: [
          { id: '7', commandLine: 'x' },
          { id: 'm', commandLine: 'x', dependsOn: { sweep: true, ranges: [{ start: 0, end: 3 }] } },
        ],
        sweep,
      }),
    ).toEqual([
      "tasks[0].id: ids of only digits are refused when a task depends on the sweep (dependsOn.sweep): the sweep's tasks take the ids 0 to N-1 in Batch",
      "tasks[1].dependsOn.ranges: cannot be used in a job that fans in over its sweep (dependsOn.sweep): the sweep's tasks have index ids in Batch, not the ids the ranges would name",
    ]);
    // Without fan-in, digit ids stay allowed.
    expect(errorsOf({ pool, tasks: [{ id: '7', commandLine: 'x' }], sweep })).toEqual([]);
  });

  it('refuses a sweep depending on an unknown task, and a circle through the sweep', () => {
    expect(
      errorsOf({
        pool,
        tasks: [{ id: 'a', commandLine: 'x' }],
        sweep: { ...sweep, dependsOn: { taskIds: ['nope'] } },
      }),
    ).toEqual([
      "sweep.dependsOn.taskIds[0]: unknown task 'nope' (the sweep may depend on the job's explicit tasks)",
    ]);
    expect(
      errorsOf({
        pool,
        tasks: [
          { id: 'a', commandLine: 'x', dependsOn: { taskIds: ['b'] } },
          { id: 'b', commandLine: 'x', dependsOn: { sweep: true } },
        ],
        sweep: { ...sweep, dependsOn: { taskIds: ['a'] } },
      }),
    ).toEqual([
      "tasks[0].dependsOn: the dependencies go round a circle ('a' → 'b' → the sweep → 'a'), so none of these tasks would ever run",
    ]);
    expect(
      errorsOf({
        pool,
        tasks: [
          { id: 'a', commandLine: 'x', dependsOn: { taskIds: ['b'] } },
          { id: 'b', commandLine: 'x', dependsOn: { taskIds: ['A'] } },
        ],
      }),
    ).toEqual([
      "tasks[0].dependsOn: the dependencies go round a circle ('a' → 'b' → 'a'), so none of these tasks would ever run",
    ]);
  });

  it("checks Batch's 64,000 characters of dependsOn.taskIds at the door", () => {
    const ids = Array.from({ length: 1001 }, (_, i) => `t${String(i).padStart(63, '0')}`);
    const tasks = [
      ...ids.map((id) => ({ id, commandLine: 'x' })),
      { id: 'last', commandLine: 'x', dependsOn: { taskIds: ids } },
    ];
    expect(ids.join('').length).toBeGreaterThan(MAX_DEPENDENCY_ID_CHARACTERS);
    expect(errorsOf({ pool, tasks })).toEqual([
      'tasks[1001].dependsOn.taskIds: names 64,064 characters of task ids; Batch allows at most 64,000 in all (use ranges, or dependsOn.sweep for a sweep)',
    ]);
    expect(errorsOf({ pool, tasks: tasks.slice(1) })).not.toContain(
      'tasks[1000].dependsOn.taskIds: names 64,000 characters of task ids',
    );
    expect(
      errorsOf({
        pool,
        tasks: tasks.slice(0, 1000),
        sweep: { ...sweep, dependsOn: { taskIds: ids.slice(0, 1000).concat(ids.slice(0, 1)) } },
      }),
    ).toEqual([
      'sweep.dependsOn.taskIds: names 64,064 characters of task ids; Batch allows at most 64,000 in all (use ranges, or dependsOn.sweep for a sweep)',
    ]);
  });
});
