/**
 * What a tenant may do: the operator's grants and the tenant's limits. Stored as overrides on the
 * tenant document (`policy`); everything not overridden takes the default written next to it here.
 * The effective policy is computed once per request with `tenantPolicy(doc)` and passed down.
 */
import { z } from 'zod';
import { identityIdSchema, sameAzureId, subnetIdSchema } from './azure-ids.js';
import { type MountSpec, managedPoolSchema } from './request-schema.js';
import { secretNameSchema } from './secret-refs.js';

export interface TenantLimits {
  /**
   * Jobs not yet in an end state (accepted … running), retried jobs included. Default 25: a quarter
   * of the smallest default Batch quota of active jobs (100), so three other tenants at their limit
   * still fit in an account on its default quota.
   */
  readonly maxActiveJobs: number;
  /** Tasks of those jobs, all together. Default 1,000,000 (one maximal sweep). */
  readonly maxTasksInFlight: number;
  /** Nodes across all of the tenant's managed pools (dedicated + low-priority). Default 100. */
  readonly maxNodes: number;
  /** VM sizes the tenant may ask for; `null` = every size Slotwise knows. Default `null`. */
  readonly allowedVmSizes: readonly string[] | null;
  /** Sustained job submissions per second (HTTP and queue together). Default 10. */
  readonly submissionsPerSecond: number;
  /** Submissions allowed at once above the sustained rate. Default 20. */
  readonly submissionBurst: number;
  /**
   * Sustained GA4GH TES task submissions per second (`POST /ga4gh/tes/v1/tasks`), counted apart from
   * jobs: a TES task is one task, and workflow engines submit them one by one. Default 100.
   */
  readonly tesTasksPerSecond: number;
  /** TES task submissions allowed at once above that rate. Default 1,000. */
  readonly tesTaskBurst: number;
  /** TES tasks not yet ended, at most. Default 100,000. */
  readonly maxTesTasksInFlight: number;
  /**
   * Slotwise-managed pools the tenant holds at once (in use, or idle until the idle TTL deletes them).
   * Default 10: half of the smallest default Batch pool quota (20), a tenth of the usual one (100); a
   * tenant's handful of pool specs and the idle pools they leave for 15 minutes fit. A job that needs
   * one more waits in `accepted` until one of the tenant's pools is deleted.
   */
  readonly maxManagedPools: number;
  /** Retries (`POST /api/jobs/{id}/retry`) one job may have. Default 10. */
  readonly maxRetriesPerJob: number;
}

export interface TenantPolicy {
  readonly limits: TenantLimits;
  /**
   * Existing (not Slotwise-managed) pools the tenant may name in `pool.id`, granted by the operator.
   * Default none.
   */
  readonly allowedPools: readonly string[];
  /** Whether tasks may ask for `elevationLevel: admin`. Default false: non-admin auto-user, task scope. */
  readonly allowAdminTasks: boolean;
  /**
   * User-assigned identities (ARM ids) the tenant's managed pools may carry (`pool.identity`). Default
   * none. The operator also gives Batch the right to assign them (Managed Identity Operator).
   */
  readonly allowedIdentities: readonly string[];
  /** Subnets (ARM ids) the tenant's managed pools may join (`pool.network.subnetId`). Default none. */
  readonly allowedSubnets: readonly string[];
  /**
   * Whether managed pools may have a `startTask`. Default false: a start task runs on every node of
   * the pool, before any task. An elevated start task also needs `allowAdminTasks`.
   */
  readonly allowStartTask: boolean;
  /** Names of the tenant's secrets that requests may reference (`{ "secretRef": name }`). Default none. */
  readonly allowedSecrets: readonly string[];
  /**
   * Shared file systems the tenant's TES tasks read and write through `file://<root>/…` URLs
   * (docs/tes.md, "Shared file systems"): each an Azure Files share, mounted on every node of the
   * tenant's TES lanes, that the workflow engine's machine mounts at `root`. Default none.
   */
  readonly tesFileSystems: readonly TesFileSystem[];
  /**
   * Batch accounts and regions the tenant's jobs may run in (docs/accounts.md): data residency, or
   * accounts set aside for a team. Default any (absent).
   */
  readonly batchAccounts?: readonly string[];
  readonly regions?: readonly string[];
}

/** An Azure Files mount, as a managed pool's request gives it (`pool.mounts[]`). */
export type AzureFilesMount = Extract<MountSpec, { azureFiles: unknown }>;

/**
 * A TES shared file system: `file://<root>/<rest>` names `<rest>` on the share, which the engine's
 * machine mounts at `root` and every node of the tenant's TES lanes at
 * `$AZ_BATCH_NODE_MOUNTS_DIR/<mount.azureFiles.relativeMountPath>`.
 */
export interface TesFileSystem {
  readonly root: string;
  readonly mount: AzureFilesMount;
}

/** At most this many TES file systems per tenant. */
export const MAX_TES_FILE_SYSTEMS = 4;

export const defaultTenantLimits: TenantLimits = {
  maxActiveJobs: 25,
  maxTasksInFlight: 1_000_000,
  maxNodes: 100,
  allowedVmSizes: null,
  submissionsPerSecond: 10,
  submissionBurst: 20,
  tesTasksPerSecond: 100,
  tesTaskBurst: 1000,
  maxTesTasksInFlight: 100_000,
  maxManagedPools: 10,
  maxRetriesPerJob: 10,
};

/**
 * Why `root` cannot be a TES file system's root, or undefined: an absolute POSIX folder path without
 * a trailing slash, empty, `.` or `..` segments or control characters, and not `/` itself (every
 * `file://` URL would then name the share).
 */
export function tesRootProblem(root: string): string | undefined {
  if (!root.startsWith('/')) return 'must be an absolute path (starting with /)';
  if (root === '/') return 'must not be / itself: give the folder where the share is mounted';
  if (root.endsWith('/')) return 'must not end with /';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(root)) return 'must not contain control characters';
  const segments = root.slice(1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    return "must not have empty, '.' or '..' segments";
  return undefined;
}

/** The request's `mount` (request-schema.ts), here only Azure Files: Batch mounts shares with their key. */
const tesFileSystemMount = managedPoolSchema.shape.mounts
  .unwrap()
  .element.refine(
    (m) => 'azureFiles' in m,
    'must be { "azureFiles": { "accountName", "shareName", "relativeMountPath", "mountOptions"?, "accountKey": { "secretRef" } } }: a TES file system is an Azure Files share',
  );

const tesFileSystemSchema = z.strictObject({
  root: z
    .string()
    .max(1024)
    .superRefine((root, ctx) => {
      const problem = tesRootProblem(root);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  mount: tesFileSystemMount,
});

/** The overrides' fields, each checked alone (an operator's change is read with this). */
const tenantPolicyOverridesFields = z.strictObject({
  limits: z
    .strictObject({
      // The ledger holds one entry per active job in one document: 10,000 keeps it far under 2 MB.
      maxActiveJobs: z.number().int().min(1).max(10_000).optional(),
      maxTasksInFlight: z.number().int().min(1).max(100_000_000).optional(),
      maxNodes: z.number().int().min(0).max(100_000).optional(),
      allowedVmSizes: z.array(z.string().min(1).max(64)).max(500).nullable().optional(),
      submissionsPerSecond: z.number().positive().max(10_000).optional(),
      submissionBurst: z.number().int().min(1).max(100_000).optional(),
      tesTasksPerSecond: z.number().positive().max(10_000).optional(),
      tesTaskBurst: z.number().int().min(1).max(100_000).optional(),
      maxTesTasksInFlight: z.number().int().min(1).max(10_000_000).optional(),
      // The usage ledger keeps one entry per managed pool too: 1,000 keeps it small.
      maxManagedPools: z.number().int().min(1).max(1000).optional(),
      maxRetriesPerJob: z.number().int().min(0).max(1000).optional(),
    })
    .optional(),
  allowedPools: z
    .array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Batch pool id'))
    .max(1000)
    .optional(),
  allowAdminTasks: z.boolean().optional(),
  identities: z.array(identityIdSchema).max(100).optional(),
  subnets: z.array(subnetIdSchema).max(100).optional(),
  allowStartTask: z.boolean().optional(),
  secrets: z.array(secretNameSchema).max(1000).optional(),
  tesFileSystems: z.array(tesFileSystemSchema).max(MAX_TES_FILE_SYSTEMS).optional(),
  batchAccounts: z
    .array(z.string().regex(/^[a-z0-9]{3,24}$/, 'must be a Batch account name'))
    .min(1)
    .max(100)
    .optional(),
  regions: z
    .array(z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be an Azure region name, e.g. westeurope'))
    .min(1)
    .max(100)
    .optional(),
});

/**
 * The stored overrides (operator-written; validated on write and on read): the fields, and the rules
 * across them. Each TES file system's root and mount folder is its own, and its share's key is one
 * of the tenant's granted `secrets` (the lane's pool references it as any pool mount does, and pool
 * requests may reference only granted secrets: check-tenant-policy.ts).
 */
export const tenantPolicyOverridesSchema = tenantPolicyOverridesFields.superRefine((o, ctx) => {
  const fileSystems = o.tesFileSystems ?? [];
  const granted = new Set((o.secrets ?? []).map((s) => s.toLowerCase()));
  const roots = new Map<string, number>();
  const folders = new Map<string, number>();
  fileSystems.forEach((fs, i) => {
    if (!('azureFiles' in fs.mount)) return;
    const files = fs.mount.azureFiles;
    const sameRoot = roots.get(fs.root);
    if (sameRoot !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['tesFileSystems', i, 'root'],
        message: `is also the root of tesFileSystems[${sameRoot}]`,
      });
    else roots.set(fs.root, i);
    const folder = files.relativeMountPath.toLowerCase();
    const sameFolder = folders.get(folder);
    if (sameFolder !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['tesFileSystems', i, 'mount', 'azureFiles', 'relativeMountPath'],
        message: `is also the folder of tesFileSystems[${sameFolder}] (each share needs its own, ignoring case)`,
      });
    else folders.set(folder, i);
    const secret = files.accountKey.secretRef;
    if (!granted.has(secret.toLowerCase()))
      ctx.addIssue({
        code: 'custom',
        path: ['tesFileSystems', i, 'mount', 'azureFiles', 'accountKey', 'secretRef'],
        message: `the share's key, secret '${secret}', is not one of the tenant's granted secrets: grant it too (--allow-secret ${secret}) and set its value (npm run tenant:secret -- <tenant> ${secret})`,
      });
  });
});

export type TenantPolicyOverrides = z.infer<typeof tenantPolicyOverridesSchema>;

export function tenantPolicy(overrides: TenantPolicyOverrides | undefined): TenantPolicy {
  const parsed = tenantPolicyOverridesSchema.safeParse(overrides ?? {});
  // A stored policy that no longer parses falls back to the defaults (never to "everything allowed").
  const o = parsed.success ? parsed.data : {};
  const limits: TenantLimits = {
    ...defaultTenantLimits,
    ...Object.fromEntries(Object.entries(o.limits ?? {}).filter(([, v]) => v !== undefined)),
  };
  return {
    limits,
    allowedPools: o.allowedPools ?? [],
    allowAdminTasks: o.allowAdminTasks ?? false,
    allowedIdentities: o.identities ?? [],
    allowedSubnets: o.subnets ?? [],
    allowStartTask: o.allowStartTask ?? false,
    allowedSecrets: o.secrets ?? [],
    tesFileSystems: (o.tesFileSystems ?? []).flatMap((fs) =>
      'azureFiles' in fs.mount ? [{ root: fs.root, mount: fs.mount }] : [],
    ),
    ...(o.batchAccounts ? { batchAccounts: o.batchAccounts } : {}),
    ...(o.regions ? { regions: o.regions } : {}),
  };
}

/** Pool ids are unique ignoring case in Batch. */
export function isPoolGranted(policy: TenantPolicy, poolId: string): boolean {
  const wanted = poolId.toLowerCase();
  return policy.allowedPools.some((p) => p.toLowerCase() === wanted);
}

/** ARM ids are compared ignoring case. */
export function isIdentityGranted(policy: TenantPolicy, identityId: string): boolean {
  return policy.allowedIdentities.some((id) => sameAzureId(id, identityId));
}

export function isSubnetGranted(policy: TenantPolicy, subnetId: string): boolean {
  return policy.allowedSubnets.some((id) => sameAzureId(id, subnetId));
}

/** Secret names are compared ignoring case (Key Vault's names are case-insensitive). */
export function isSecretGranted(policy: TenantPolicy, name: string): boolean {
  const wanted = name.toLowerCase();
  return policy.allowedSecrets.some((s) => s.toLowerCase() === wanted);
}

export function isVmSizeAllowed(policy: TenantPolicy, vmSize: string): boolean {
  const allowed = policy.limits.allowedVmSizes;
  return allowed === null || allowed.some((s) => s.toLowerCase() === vmSize.toLowerCase());
}

/** Merges an operator's change into stored overrides (limits merge key by key). */
export function mergePolicyOverrides(
  current: TenantPolicyOverrides | undefined,
  change: TenantPolicyOverrides,
): TenantPolicyOverrides {
  return tenantPolicyOverridesSchema.parse(mergedOverrides(current, change));
}

/**
 * What `mergePolicyOverrides` would store, or why it refuses the change (the rules across fields,
 * such as a TES file system's key not being a granted secret), in words an operator can act on.
 */
export function checkPolicyChange(
  current: TenantPolicyOverrides | undefined,
  change: TenantPolicyOverrides,
): { ok: true; merged: TenantPolicyOverrides } | { ok: false; message: string } {
  const parsed = tenantPolicyOverridesSchema.safeParse(mergedOverrides(current, change));
  if (!parsed.success) return { ok: false, message: issuesText(parsed.error.issues) };
  return { ok: true, merged: parsed.data };
}

function mergedOverrides(
  current: TenantPolicyOverrides | undefined,
  change: TenantPolicyOverrides,
): TenantPolicyOverrides {
  const merged: TenantPolicyOverrides = { ...current, ...change };
  if (current?.limits || change.limits) merged.limits = { ...current?.limits, ...change.limits };
  return merged;
}

const issuesText = (issues: readonly z.core.$ZodIssue[]) =>
  issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

/**
 * An operator's policy change from command-line words: `--limit name=value` (numbers, or a comma list
 * for `allowedVmSizes`, `all` for every size), `--allow-pool id`, `--allow-admin-tasks true|false`,
 * `--allow-identity <ARM id>`, `--allow-subnet <ARM id>`, `--allow-start-task true|false`,
 * `--allow-secret <name>`, `--tes-file-system <root>=<account>/<share>:<secret name>` (a TES shared
 * file system: the Azure Files share `<share>` of storage account `<account>`, its key the tenant's
 * secret `<secret name>`, mounted on the nodes at `tes-fs-<index>`). A list given replaces the stored
 * one (an empty run leaves it). Each field is validated as stored, so a typo is refused before
 * anything is written; the rules across fields (a share's key must be a granted secret, perhaps
 * granted in an earlier run) are checked against the stored policy by `checkPolicyChange`.
 */
export function policyChangeFromArgs(args: {
  readonly limits?: readonly string[];
  readonly allowPools?: readonly string[];
  readonly allowAdminTasks?: string;
  readonly allowIdentities?: readonly string[];
  readonly allowSubnets?: readonly string[];
  readonly allowStartTask?: string;
  readonly allowSecrets?: readonly string[];
  readonly tesFileSystems?: readonly string[];
  /** `--batch-account a,b` / `--region x,y`; `any` lifts the restriction. */
  readonly batchAccounts?: string;
  readonly regions?: string;
}): { ok: true; change: TenantPolicyOverrides } | { ok: false; message: string } {
  const limits: Record<string, unknown> = {};
  for (const word of args.limits ?? []) {
    const eq = word.indexOf('=');
    const name = eq > 0 ? word.slice(0, eq) : '';
    const value = word.slice(eq + 1);
    if (!(name in defaultTenantLimits)) {
      return {
        ok: false,
        message: `--limit ${word}: unknown limit (one of ${Object.keys(defaultTenantLimits).join(', ')})`,
      };
    }
    limits[name] =
      name === 'allowedVmSizes'
        ? value === 'all'
          ? null
          : value.split(',').filter((s) => s.length > 0)
        : Number(value);
  }
  const change: Record<string, unknown> = {};
  if (Object.keys(limits).length > 0) change.limits = limits;
  if (args.allowPools && args.allowPools.length > 0) change.allowedPools = [...args.allowPools];
  if (args.allowAdminTasks !== undefined) {
    if (args.allowAdminTasks !== 'true' && args.allowAdminTasks !== 'false')
      return { ok: false, message: '--allow-admin-tasks takes true or false' };
    change.allowAdminTasks = args.allowAdminTasks === 'true';
  }
  if (args.allowIdentities && args.allowIdentities.length > 0) change.identities = [...args.allowIdentities];
  if (args.allowSubnets && args.allowSubnets.length > 0) change.subnets = [...args.allowSubnets];
  if (args.allowStartTask !== undefined) {
    if (args.allowStartTask !== 'true' && args.allowStartTask !== 'false')
      return { ok: false, message: '--allow-start-task takes true or false' };
    change.allowStartTask = args.allowStartTask === 'true';
  }
  if (args.allowSecrets && args.allowSecrets.length > 0) change.secrets = [...args.allowSecrets];
  if (args.tesFileSystems && args.tesFileSystems.length > 0) {
    const fileSystems: unknown[] = [];
    for (const [index, word] of args.tesFileSystems.entries()) {
      const parsed = tesFileSystemFromWord(word, index);
      if (typeof parsed === 'string') return { ok: false, message: `--tes-file-system ${word}: ${parsed}` };
      fileSystems.push(parsed);
    }
    change.tesFileSystems = fileSystems;
  }
  const list = (text: string) => text.split(',').filter((s) => s.length > 0);
  if (args.batchAccounts !== undefined)
    change.batchAccounts = args.batchAccounts === 'any' ? undefined : list(args.batchAccounts);
  if (args.regions !== undefined) change.regions = args.regions === 'any' ? undefined : list(args.regions);
  const parsed = tenantPolicyOverridesFields.safeParse(change);
  if (!parsed.success) return { ok: false, message: issuesText(parsed.error.issues) };
  // `any` is an explicit removal: kept as a key with no value, so the merge drops the stored list.
  return {
    ok: true,
    change: {
      ...parsed.data,
      ...('batchAccounts' in change && change.batchAccounts === undefined
        ? { batchAccounts: undefined }
        : {}),
      ...('regions' in change && change.regions === undefined ? { regions: undefined } : {}),
    },
  };
}

/**
 * `<root>=<account>/<share>:<secret name>` as a TES file system mounted at `tes-fs-<index>`, or what
 * is wrong with it. The root is what comes before the last `=` (account, share and secret names hold
 * none); the parts are checked by the schema.
 */
function tesFileSystemFromWord(word: string, index: number): object | string {
  const eq = word.lastIndexOf('=');
  const share = /^([^/]+)\/([^:]+):(.+)$/.exec(word.slice(eq + 1));
  if (eq <= 0 || !share) return 'give <root>=<storage account>/<file share>:<secret name>';
  return {
    root: word.slice(0, eq),
    mount: {
      azureFiles: {
        accountName: share[1],
        shareName: share[2],
        relativeMountPath: `tes-fs-${index}`,
        accountKey: { secretRef: share[3] },
      },
    },
  };
}
