/**
 * The job request: what callers POST to /api/jobs or put in a `job-requests` message. Validated here,
 * at the boundary, with every problem reported at once; everything past this point works on the typed
 * `JobRequest`. Unknown properties are rejected so that a typo never silently changes a job.
 *
 * Limits (documented in docs/api.md): ids ≤ 64 chars of letters, digits, `-`, `_` (Batch's rule, unique
 * ignoring case); ≤ 10,000 explicit tasks; a sweep expands to ≤ 1,000,000 tasks; command lines ≤ 8,000
 * chars; ≤ 100 environment variables, ≤ 100 resource files and ≤ 20 output files per task; ≤ 10
 * application packages per level; ≤ 20 metadata entries; ≤ 10 mounts and ≤ 16 data disks per managed
 * pool. The per-task limits hold for every task a sweep expands to, and the
 * expanded job as a whole is capped (validate-request.ts checks both without expanding the sweep).
 */
import { z } from 'zod';
import { identityIdSchema, subnetIdSchema } from './azure-ids.js';
import {
  blobPathProblem,
  filePatternProblem,
  MAX_BLOB_NAME_LENGTH,
  MAX_RESULTS_PATH_LENGTH,
  resultsPathProblem,
  resultsPrefixProblem,
} from './output-rules.js';
import { secretRefSchema } from './secret-refs.js';

export const MAX_EXPLICIT_TASKS = 10_000;
/** The task events a callback may ask for (`callback.taskEvents`). */
export const TASK_EVENT_KINDS = ['failed', 'completed'] as const;
export type TaskEventKind = (typeof TASK_EVENT_KINDS)[number];
export const MAX_TASKS = 1_000_000;
export const MAX_ID_LENGTH = 64;
/** Batch's limits on one task, in characters. */
export const MAX_COMMAND_LINE_LENGTH = 8000;
export const MAX_ENVIRONMENT_VALUE_LENGTH = 32_768;
export const MAX_FILE_PATH_LENGTH = 1024;
/**
 * JSON size of one task: every task must fit, with the envelope and the fields the planner adds, in
 * one add-collection request (Batch refuses bodies of 1 MB or more; chunks are cut at 900,000 bytes).
 */
export const MAX_TASK_JSON_BYTES = 800_000;
/**
 * JSON size of all tasks of a job together (explicit and expanded): 1 GiB. The planner stores them as
 * chunks and the submitter sends them to Batch; this keeps one request from taking storage and
 * bandwidth without bound (a million tasks of about 1 KB each fit).
 */
export const MAX_EXPANDED_JOB_BYTES = 1024 ** 3;
/**
 * JSON size of the request as stored in the job document, which Cosmos caps at 2 MB. The HTTP body is
 * at most 1 MiB, but numbers can grow when re-serialised (`1e20` becomes 21 digits) and defaults are
 * filled in, so it is checked again after parsing: 1.25 MiB leaves 0.75 MiB for the rest of the document.
 */
export const MAX_REQUEST_JSON_BYTES = 1.25 * 1024 * 1024;

const batchId = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`)
  .regex(/^[A-Za-z0-9_-]+$/, 'may contain only letters, digits, hyphens and underscores');

const isoDuration = z.iso.duration({ message: 'must be an ISO 8601 duration such as PT2H or P1D' });

/**
 * An environment value: plain text, or `{ "secretRef": "<name>" }`, one of the tenant's secrets
 * (granted by the operator), put in only when the body is sent to Batch (see secret-refs.ts).
 */
const environmentValue = z.union([z.string().max(MAX_ENVIRONMENT_VALUE_LENGTH), secretRefSchema], {
  message: 'must be a string or { "secretRef": "<secret name>" }',
});

const environment = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'names must be letters, digits and underscores'),
    environmentValue,
  )
  .refine((env) => Object.keys(env).length <= 100, 'at most 100 environment variables');

const httpsOrBlobUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });

/** A zod check from a rule that returns why a value is refused. */
const rule =
  (problem: (value: string) => string | undefined) =>
  (value: string, ctx: z.RefinementCtx): void => {
    const why = problem(value);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  };

/**
 * Read from the tenant's results store (same tenant: the store is the tenant's own container):
 * blobs under `<job>/<prefix>`, `job` being this job unless named. Sent to Batch as a container
 * download (`storageContainerUrl` + `blobPrefix`); `filePath` is the folder they land in.
 */
const fromResultsFile = z.strictObject({
  fromResults: z.strictObject({
    prefix: z
      .string()
      .max(MAX_RESULTS_PATH_LENGTH, `must be at most ${MAX_RESULTS_PATH_LENGTH} characters`)
      .superRefine(rule(resultsPrefixProblem)),
    job: batchId.optional(),
  }),
  filePath: z.string().max(MAX_FILE_PATH_LENGTH).optional(),
  fileMode: z
    .string()
    .regex(/^[0-7]{3,4}$/)
    .optional(),
});

/**
 * `identity: true`: the node downloads with the pool's user-assigned identity (`pool.identity`,
 * Batch's `identityReference`) instead of a SAS in the URL.
 */
const useIdentity = z.boolean().optional();

const httpResourceFile = z.strictObject({
  httpUrl: httpsOrBlobUrl,
  filePath: z.string().min(1).max(MAX_FILE_PATH_LENGTH),
  fileMode: z
    .string()
    .regex(/^[0-7]{3,4}$/)
    .optional(),
  identity: useIdentity,
});

const containerResourceFile = z.strictObject({
  storageContainerUrl: httpsOrBlobUrl,
  blobPrefix: z.string().max(1024).optional(),
  filePath: z.string().max(MAX_FILE_PATH_LENGTH).optional(),
  fileMode: z
    .string()
    .regex(/^[0-7]{3,4}$/)
    .optional(),
  identity: useIdentity,
});

const resourceFile = z.union([httpResourceFile, containerResourceFile, fromResultsFile], {
  message:
    'must be { "httpUrl", "filePath", "identity"? }, { "storageContainerUrl", "blobPrefix"?, "filePath"?, "identity"? } or { "fromResults": { "prefix", "job"? }, "filePath"? }',
});

/** A start task's files: the results store belongs to jobs, and a pool outlives them, so no `fromResults`. */
const startTaskResourceFile = z.union([httpResourceFile, containerResourceFile], {
  message:
    'must be { "httpUrl", "filePath", "identity"? } or { "storageContainerUrl", "blobPrefix"?, "filePath"?, "identity"? }',
});

/**
 * Outputs per task (explicit or expanded). Each one the results store receives carries the store's
 * URL and a SAS (about 600 characters once the submitter resolves it) in every task body, so the
 * count is capped where a task's outputs still cost little of Batch's 1 MB request: 20 patterns,
 * with wildcards, cover what a task writes.
 */
export const MAX_OUTPUT_FILES = 20;

/**
 * An output: files matching `filePattern` (relative to the task's working directory) are uploaded
 * when the task ends, to the tenant's results store (no destination, or `results`) or to the
 * caller's container (`containerUrl`, with a SAS granting write). See docs/api.md.
 */
const outputFile = z.strictObject({
  filePattern: z
    .string()
    .min(1, 'must not be empty')
    .max(1024, 'must be at most 1024 characters')
    .superRefine(rule(filePatternProblem)),
  destination: z
    .union(
      [
        z.strictObject({
          containerUrl: httpsOrBlobUrl,
          path: z
            .string()
            .min(1, 'must not be empty')
            .max(MAX_BLOB_NAME_LENGTH, `must be at most ${MAX_BLOB_NAME_LENGTH} characters`)
            .superRefine(rule(blobPathProblem))
            .optional(),
          /** Upload with the pool's identity (`pool.identity`) instead of a SAS in `containerUrl`. */
          identity: useIdentity,
        }),
        z.strictObject({
          /** `path` is relative to the job's folder; default `<task>/<file name>`, or `<task>` for a wildcard pattern. */
          results: z.strictObject({
            path: z
              .string()
              .min(1, 'must not be empty')
              .max(MAX_RESULTS_PATH_LENGTH, `must be at most ${MAX_RESULTS_PATH_LENGTH} characters`)
              .superRefine(rule(resultsPathProblem))
              .optional(),
          }),
        }),
      ],
      { message: 'must be { "containerUrl", "path"?, "identity"? } or { "results": { "path"? } }' },
    )
    .optional(),
  /** Batch's upload condition; default taskCompletion. */
  uploadCondition: z.enum(['taskSuccess', 'taskFailure', 'taskCompletion']).optional(),
});

const applicationPackage = z.strictObject({
  /** Application name, or the full ARM resource id of the application. */
  applicationId: z.string().min(1).max(1024),
  /** Omitted → the application's default version. */
  version: z.string().min(1).max(64).optional(),
});

const container = z.strictObject({
  image: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/, 'must be a container image reference such as repo/name:tag'),
  /** Extra `docker create` options: only the safe subset in container-run-options.ts is accepted. */
  runOptions: z.string().max(4096).optional(),
});

const resources = z.strictObject({
  cpus: z.number().positive().max(512).optional(),
  memoryGiB: z.number().positive().max(4096).optional(),
});

const dependsOn = z.strictObject({
  taskIds: z.array(batchId).max(10_000).optional(),
  /** Depends on every task of the job's sweep (fan-in): the sweep's tasks then get their index as Batch id. */
  sweep: z.boolean().optional(),
  /** Inclusive ranges of numeric task ids, as Batch's `taskIdRanges`. */
  ranges: z
    .array(
      z
        .strictObject({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() })
        .refine((r) => r.start <= r.end, { message: 'start must not exceed end', path: ['end'] }),
    )
    .max(1000)
    .optional(),
});

const int32 = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);

/**
 * Batch's ExitOptions. `jobAction` defaults to `none` for exit code 0 and `terminate` otherwise and
 * acts only on a job with `onTaskFailure: performexitoptionsjobaction`, which the planner sets when any
 * task names a jobAction. `dependencyAction` defaults to `satisfy` for 0 and `block` otherwise.
 */
const exitOptions = z.strictObject({
  jobAction: z.enum(['none', 'disable', 'terminate']).optional(),
  dependencyAction: z.enum(['satisfy', 'block']).optional(),
});

/** Batch's ExitConditions, passed to Batch unchanged (see shared/model/exit-conditions.ts for the job's state). */
export const exitConditionsSchema = z.strictObject({
  exitCodes: z
    .array(z.strictObject({ code: int32, exitOptions }))
    .max(100)
    .optional(),
  exitCodeRanges: z
    .array(
      z
        .strictObject({ start: int32, end: int32, exitOptions })
        .refine((r) => r.start <= r.end, { message: 'start must not exceed end', path: ['end'] }),
    )
    .max(100)
    .optional(),
  preProcessingError: exitOptions.optional(),
  fileUploadError: exitOptions.optional(),
  default: exitOptions.optional(),
});

/** Fields shared by explicit tasks and the sweep template. */
const taskFields = {
  commandLine: z.string().min(1).max(MAX_COMMAND_LINE_LENGTH),
  displayName: z.string().max(1024).optional(),
  /** Slots this task occupies on a node (Batch `requiredSlots`). Default 1, or derived from `resources`. */
  requiredSlots: z.number().int().min(1).max(256).optional(),
  /** Alternative to requiredSlots: the planner derives slots from the VM size. */
  resources: resources.optional(),
  environment: environment.optional(),
  resourceFiles: z.array(resourceFile).max(100).optional(),
  outputFiles: z
    .array(outputFile)
    .max(MAX_OUTPUT_FILES, `at most ${MAX_OUTPUT_FILES} output files per task`)
    .optional(),
  container: container.optional(),
  applicationPackages: z.array(applicationPackage).max(10).optional(),
  /** Retries after a non-zero exit (Batch `maxTaskRetryCount`): 0..100, or -1 for unlimited. */
  maxRetries: z.number().int().min(-1).max(100).optional(),
  maxWallClockTime: isoDuration.optional(),
  /**
   * Batch's auto-user elevation (`userIdentity.autoUser.elevationLevel`). Tasks run as a non-admin
   * user scoped to the task; `admin` needs the operator's grant for the tenant (`allowAdminTasks`).
   */
  elevationLevel: z.enum(['nonadmin', 'admin']).optional(),
  /** How Batch responds to the task's exit code or errors (Batch `exitConditions`, sent unchanged). */
  exitConditions: exitConditionsSchema.optional(),
  /** Expected run time (ISO 8601), for the dry run's estimate only: never sent to Batch. */
  expectedDuration: isoDuration.optional(),
};

export const taskSpecSchema = z
  .strictObject({ id: batchId, ...taskFields, dependsOn: dependsOn.optional() })
  .refine((t) => !(t.requiredSlots !== undefined && t.resources !== undefined), {
    message: 'give either requiredSlots or resources, not both',
    path: ['resources'],
  });

const sweepParameter = z.union([
  z
    .strictObject({
      from: z.number().int(),
      to: z.number().int(),
      step: z.number().int().positive().default(1),
      /** Zero-pad to this width when substituted, e.g. 5 → 00042. */
      pad: z.number().int().min(1).max(20).optional(),
    })
    .refine((p) => p.from <= p.to, { message: 'from must not exceed to', path: ['to'] }),
  z
    .array(z.union([z.string().max(256), z.number()]))
    .min(1)
    .max(MAX_TASKS),
]);

/**
 * A parametric sweep: one task template × parameter ranges, expanded at plan time, so a
 * 100,000-task job is a small request. `{name}` in `idTemplate`, `commandLine`, plain environment
 * values (not secret references), resource file paths and output file patterns and paths is replaced
 * by each value; the cartesian
 * product of all parameters is taken.
 */
export const sweepSchema = z.strictObject({
  idTemplate: z
    .string()
    .min(1)
    .max(MAX_ID_LENGTH * 2),
  ...taskFields,
  /** Explicit tasks every task of the sweep waits for. */
  dependsOn: z.strictObject({ taskIds: z.array(batchId).min(1).max(10_000) }).optional(),
  parameters: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'parameter names must be identifiers'),
      sweepParameter,
    )
    .refine((p) => Object.keys(p).length >= 1 && Object.keys(p).length <= 8, 'between 1 and 8 parameters'),
});

export const existingPoolSchema = z.strictObject({ id: batchId });

/** Storage account names: 3 to 24 lowercase letters and digits. */
const storageAccountName = z
  .string()
  .regex(/^[a-z0-9]{3,24}$/, 'must be a storage account name: 3 to 24 lowercase letters and digits');

/** Blob container and file share names: 3 to 63 lowercase letters, digits and single hyphens. */
const containerOrShareName = (what: string) =>
  z
    .string()
    .regex(
      /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/,
      `must be a ${what} name: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`,
    );

/** Mounted under Batch's mounts directory (`AZ_BATCH_NODE_MOUNTS_DIR`): one folder name, never a path. */
const relativeMountPath = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'must be a folder name of 1 to 64 letters, digits, ".", "_" and "-" (mounted under AZ_BATCH_NODE_MOUNTS_DIR)',
  );

/** Options handed to the mount command: plain words only, nothing a shell or the agent could read as more. */
const mountOptions = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9 ,=._/:+-]*$/, 'may contain only letters, digits, spaces and , = . _ / : + -');

/**
 * A file system mounted on every node of the pool. Blob containers (blobfuse) are mounted with the
 * pool's identity (`pool.identity` must be set and have read access); Azure Files takes the account
 * key (Batch's share mount has no identity option), given as one of the tenant's secrets.
 */
const mount = z.union(
  [
    z.strictObject({
      azureBlob: z.strictObject({
        accountName: storageAccountName,
        containerName: containerOrShareName('container'),
        relativeMountPath,
        blobfuseOptions: mountOptions.optional(),
      }),
    }),
    z.strictObject({
      azureFiles: z.strictObject({
        accountName: storageAccountName,
        shareName: containerOrShareName('file share'),
        relativeMountPath,
        mountOptions: mountOptions.optional(),
        accountKey: secretRefSchema,
      }),
    }),
  ],
  {
    message:
      'must be { "azureBlob": { "accountName", "containerName", "relativeMountPath", "blobfuseOptions"? } } or { "azureFiles": { "accountName", "shareName", "relativeMountPath", "mountOptions"?, "accountKey": { "secretRef" } } }',
  },
);

/** A managed disk attached to every node (Batch's DataDisk); the start task formats and mounts it. */
const dataDisk = z.strictObject({
  lun: z.number().int().min(0).max(63),
  diskSizeGB: z.number().int().min(1).max(32_767),
  caching: z.enum(['none', 'readOnly', 'readWrite']).optional(),
  storageAccountType: z.enum(['standard_lrs', 'premium_lrs', 'standardssd_lrs']).optional(),
});

/**
 * Batch's pool start task: runs on every node as it joins the pool (drivers, agents, tools). Runs as
 * the pool-scoped auto-user, admin only with `elevated` (which needs the tenant's admin grant); the
 * tenant needs the operator's `allowStartTask` grant for any start task.
 */
const startTask = z.strictObject({
  commandLine: z.string().min(1).max(MAX_COMMAND_LINE_LENGTH),
  resourceFiles: z.array(startTaskResourceFile).max(100).optional(),
  environment: environment.optional(),
  /** Default true: no task runs on a node until its start task succeeded there. */
  waitForSuccess: z.boolean().optional(),
  /** Retries after a non-zero exit (Batch `maxTaskRetryCount`), 0..100; default 0. */
  maxRetries: z.number().int().min(0).max(100).optional(),
  /** Run as admin (Batch `elevationLevel: admin`). Default false. */
  elevated: z.boolean().optional(),
});

export const managedPoolSchema = z.strictObject({
  vmSize: z.string().min(1).max(64),
  /** Default: one slot per vCPU. At most min(4 × vCPUs, 256). */
  taskSlotsPerNode: z.number().int().min(1).max(256).optional(),
  /** Cap on nodes; beyond it the job runs in waves. Default 20. */
  maxNodes: z.number().int().min(1).max(1000).optional(),
  /** Use Spot (low-priority) nodes instead of dedicated ones. */
  lowPriority: z.boolean().optional(),
  image: z
    .strictObject({
      publisher: z.string().min(1),
      offer: z.string().min(1),
      sku: z.string().min(1),
      version: z.string().min(1).default('latest'),
    })
    .optional(),
  nodeAgentSkuId: z.string().min(1).optional(),
  containerRegistries: z
    .array(
      z.strictObject({
        registryServer: z.string().min(1),
        /**
         * Pull with the pool's identity: must be `pool.identity` (the identity needs pull rights on
         * the registry). Batch only uses identities the pool carries.
         */
        identityResourceId: z.string().min(1).max(1024).optional(),
      }),
    )
    .max(10)
    .optional(),
  /**
   * ARM id of a user-assigned identity the pool carries (granted to the tenant by the operator):
   * used by `identity: true` on resource and output files, Blob mounts and registry pulls.
   */
  identity: identityIdSchema.optional(),
  /** The nodes join the tenant's subnet (granted by the operator); `publicIp: none` gives them no public IP. */
  network: z
    .strictObject({
      subnetId: subnetIdSchema,
      /** Default batchManaged. */
      publicIp: z.enum(['batchManaged', 'none']).optional(),
    })
    .optional(),
  startTask: startTask.optional(),
  mounts: z.array(mount).max(10, 'at most 10 mounts').optional(),
  dataDisks: z.array(dataDisk).max(16, 'at most 16 data disks').optional(),
});

export const jobRequestSchema = z
  .strictObject({
    /** Optional; also the idempotency key. Generated when absent. */
    id: batchId.optional(),
    displayName: z.string().max(1024).optional(),
    pool: z.union([existingPoolSchema, managedPoolSchema], {
      message: 'must be { "id": "<existing pool>" } or { "vmSize": "...", ... }',
    }),
    tasks: z.array(taskSpecSchema).max(MAX_EXPLICIT_TASKS).optional(),
    sweep: sweepSchema.optional(),
    /** Job-level application packages (installed for every task). */
    applicationPackages: z.array(applicationPackage).max(10).optional(),
    /** Batch job priority, -1000..1000. */
    priority: z.number().int().min(-1000).max(1000).optional(),
    metadata: z
      .record(z.string().min(1).max(128), z.string().max(1024))
      .refine((m) => Object.keys(m).length <= 20, 'at most 20 entries')
      .optional(),
    /** Default for tasks that do not set their own. */
    maxRetries: z.number().int().min(-1).max(100).optional(),
    /** Whole-job limit; Batch terminates the job when it expires. */
    maxWallClockTime: isoDuration.optional(),
    /** Expected run time of tasks that give none (ISO 8601), for the dry run's estimate only. */
    expectedDuration: isoDuration.optional(),
    callback: z
      .strictObject({
        url: z.url(),
        /**
         * Task events wanted on the callback (opt-in; none by default): `failed` sends
         * `slotwise.task.failed`, `completed` sends `slotwise.task.completed` (tasks that succeeded),
         * batched and at most one of each kind per job per 30 s. See docs/webhooks.md.
         */
        taskEvents: z
          .array(z.enum(TASK_EVENT_KINDS))
          .min(1)
          .max(TASK_EVENT_KINDS.length)
          .refine((kinds) => new Set(kinds).size === kinds.length, 'each kind at most once')
          .optional(),
      })
      .optional(),
    /**
     * Batch's job preparation task: runs once on each node before the first task of the job there,
     * typically to download shared input once per node instead of once per task. No commandLine →
     * a no-op (`/bin/sh -c true`) that only downloads the resource files. See docs/api.md.
     */
    jobPreparation: z
      .strictObject({
        commandLine: z.string().min(1).max(MAX_COMMAND_LINE_LENGTH).optional(),
        resourceFiles: z.array(resourceFile).max(100).optional(),
        environment: environment.optional(),
        /** Default true: the node runs no task of the job until the preparation succeeded there. */
        waitForSuccess: z.boolean().optional(),
      })
      .optional(),
    /** Batch's job release task: runs on each node that ran the job, once the job ends (≤ PT15M). */
    jobRelease: z
      .strictObject({
        commandLine: z.string().min(1).max(MAX_COMMAND_LINE_LENGTH),
        maxWallClockTime: isoDuration.optional(),
        environment: environment.optional(),
      })
      .optional(),
    /**
     * Which task logs (stdout.txt, stderr.txt) are kept in the results store: every task's
     * (`taskCompletion`, the default), failed tasks' only (`taskFailure`), or none.
     */
    keepLogs: z.enum(['taskCompletion', 'taskFailure', 'none']).optional(),
  })
  .refine((j) => (j.tasks?.length ?? 0) > 0 || j.sweep !== undefined, {
    message: 'a job needs tasks or a sweep',
    path: ['tasks'],
  });

export type JobRequest = z.infer<typeof jobRequestSchema>;
export type TaskSpec = z.infer<typeof taskSpecSchema>;
export type SweepSpec = z.infer<typeof sweepSchema>;
export type ManagedPoolRequest = z.infer<typeof managedPoolSchema>;
export type ExistingPoolRequest = z.infer<typeof existingPoolSchema>;
export type ApplicationPackage = z.infer<typeof applicationPackage>;
export type ExitConditions = z.infer<typeof exitConditionsSchema>;
export type OutputFileSpec = z.infer<typeof outputFile>;
export type ResourceFileSpec = z.infer<typeof resourceFile>;
export type StartTaskSpec = z.infer<typeof startTask>;
export type MountSpec = z.infer<typeof mount>;
export type DataDiskSpec = z.infer<typeof dataDisk>;
export type EnvironmentSpec = z.infer<typeof environment>;
export type KeepLogs = NonNullable<JobRequest['keepLogs']>;

export function isExistingPool(pool: JobRequest['pool']): pool is ExistingPoolRequest {
  return 'id' in pool;
}
