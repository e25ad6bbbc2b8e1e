/**
 * The rules of a managed pool's options that span fields: every use of the pool identity
 * (`identity: true` on resource and output files, Blob mounts, registry pulls) needs `pool.identity`
 * on a pool Slotwise manages, disks and mount folders are unique, and a plain environment value may
 * not pose as a secret reference. Also where the request references secrets, for the tenant checks
 * and for sizing. The tenant's grants are checked in check-tenant-policy.ts.
 */

import { sameAzureId } from './azure-ids.js';
import { type FieldError, fieldError } from './field-error.js';
import {
  type EnvironmentSpec,
  isExistingPool,
  type JobRequest,
  type OutputFileSpec,
  type ResourceFileSpec,
  type SweepSpec,
} from './request-schema.js';
import { isSecretRef, SECRET_REF_PREFIX } from './secret-refs.js';

type Path = readonly PropertyKey[];

const NO_POOL_IDENTITY =
  "uses the pool's identity, but the pool has none: set pool.identity to a user-assigned identity granted to this tenant";
const EXISTING_POOL_IDENTITY =
  "uses the pool's identity, which only a pool Slotwise manages can have (pool.identity): the identities of an existing pool are not known here";
const RESERVED_VALUE = `must not start with "${SECRET_REF_PREFIX}", which marks secret references: give { "secretRef": "<name>" } to use a secret`;

export function checkPoolOptions(request: JobRequest, errors: FieldError[]): void {
  checkIdentityUses(request, errors);
  checkPlainValues(request, errors);
  const pool = request.pool;
  if (isExistingPool(pool)) return;
  const luns = new Map<number, number>();
  pool.dataDisks?.forEach((disk, i) => {
    const first = luns.get(disk.lun);
    if (first === undefined) luns.set(disk.lun, i);
    else
      errors.push(
        fieldError(['pool', 'dataDisks', i, 'lun'], `duplicates the lun of pool.dataDisks[${first}]`),
      );
  });
  const folders = new Map<string, number>();
  pool.mounts?.forEach((m, i) => {
    const [kind, folder] =
      'azureBlob' in m
        ? ['azureBlob', m.azureBlob.relativeMountPath]
        : ['azureFiles', m.azureFiles.relativeMountPath];
    const key = folder.toLowerCase();
    const first = folders.get(key);
    if (first === undefined) folders.set(key, i);
    else
      errors.push(
        fieldError(
          ['pool', 'mounts', i, kind, 'relativeMountPath'],
          `is also the folder of pool.mounts[${first}] (each mount needs its own, ignoring case)`,
        ),
      );
  });
}

/** Where the request asks for the pool identity, as field paths. */
function identityUses(request: JobRequest): Path[] {
  const uses: Path[] = [];
  const files = (list: readonly ResourceFileSpec[] | undefined, at: Path) => {
    list?.forEach((f, k) => {
      if ('identity' in f && f.identity === true) uses.push([...at, 'resourceFiles', k, 'identity']);
    });
  };
  const outputs = (list: readonly OutputFileSpec[] | undefined, at: Path) => {
    list?.forEach((o, k) => {
      const d = o.destination;
      if (d && 'containerUrl' in d && d.identity === true)
        uses.push([...at, 'outputFiles', k, 'destination', 'identity']);
    });
  };
  request.tasks?.forEach((task, i) => {
    files(task.resourceFiles, ['tasks', i]);
    outputs(task.outputFiles, ['tasks', i]);
  });
  if (request.sweep) {
    files(request.sweep.resourceFiles, ['sweep']);
    outputs(request.sweep.outputFiles, ['sweep']);
  }
  files(request.jobPreparation?.resourceFiles, ['jobPreparation']);
  const pool = request.pool;
  if (!isExistingPool(pool)) {
    files(pool.startTask?.resourceFiles, ['pool', 'startTask']);
    pool.mounts?.forEach((m, k) => {
      if ('azureBlob' in m) uses.push(['pool', 'mounts', k, 'azureBlob']);
    });
  }
  return uses;
}

function checkIdentityUses(request: JobRequest, errors: FieldError[]): void {
  const pool = request.pool;
  const existing = isExistingPool(pool);
  if (existing || pool.identity === undefined) {
    for (const path of identityUses(request))
      errors.push(fieldError(path, existing ? EXISTING_POOL_IDENTITY : NO_POOL_IDENTITY));
  }
  if (existing) return;
  // Batch pulls only with an identity the pool carries: another one could never work.
  pool.containerRegistries?.forEach((r, k) => {
    if (r.identityResourceId === undefined) return;
    const path = ['pool', 'containerRegistries', k, 'identityResourceId'];
    if (pool.identity === undefined)
      errors.push(
        fieldError(
          path,
          "needs the pool's identity: set pool.identity to this identity (Batch pulls only with an identity the pool carries)",
        ),
      );
    else if (!sameAzureId(r.identityResourceId, pool.identity))
      errors.push(
        fieldError(
          path,
          "must be the pool's identity, pool.identity (Batch pulls only with an identity the pool carries)",
        ),
      );
  });
}

/** Every environment the request gives, with its path. */
function environments(request: JobRequest): [EnvironmentSpec | undefined, Path][] {
  const pool = request.pool;
  return [
    ...(request.tasks ?? []).map((t, i): [EnvironmentSpec | undefined, Path] => [
      t.environment,
      ['tasks', i, 'environment'],
    ]),
    [request.sweep?.environment, ['sweep', 'environment']],
    [request.jobPreparation?.environment, ['jobPreparation', 'environment']],
    [request.jobRelease?.environment, ['jobRelease', 'environment']],
    [isExistingPool(pool) ? undefined : pool.startTask?.environment, ['pool', 'startTask', 'environment']],
  ];
}

/** The secret references of the request: each with its field path and the secret's name. */
export function secretRefsOf(request: JobRequest): { path: Path; name: string }[] {
  const refs: { path: Path; name: string }[] = [];
  for (const [env, at] of environments(request)) {
    for (const [name, value] of Object.entries(env ?? {}))
      if (isSecretRef(value)) refs.push({ path: [...at, name, 'secretRef'], name: value.secretRef });
  }
  const pool = request.pool;
  if (!isExistingPool(pool)) {
    pool.mounts?.forEach((m, k) => {
      if ('azureFiles' in m)
        refs.push({
          path: ['pool', 'mounts', k, 'azureFiles', 'accountKey', 'secretRef'],
          name: m.azureFiles.accountKey.secretRef,
        });
    });
  }
  return refs;
}

/** Secret references in one environment: each becomes a value of up to MAX_SECRET_VALUE_LENGTH. */
export function secretRefCount(environment: EnvironmentSpec | undefined): number {
  let n = 0;
  for (const value of Object.values(environment ?? {})) if (isSecretRef(value)) n++;
  return n;
}

/**
 * A plain value that starts like a placeholder would be read as one when the body is sent: refused,
 * in the sweep's template too when some parameter values could render it.
 */
function checkPlainValues(request: JobRequest, errors: FieldError[]): void {
  // A long list parameter used in many values is read once.
  const heads = new Map<string, Set<string>>();
  for (const [env, at] of environments(request)) {
    for (const [name, value] of Object.entries(env ?? {})) {
      if (typeof value !== 'string') continue;
      if (at[0] === 'sweep' && request.sweep) {
        if (mayRenderWithPrefix(value, request.sweep.parameters, SECRET_REF_PREFIX, heads))
          errors.push(
            fieldError(
              [...at, name],
              `renders values starting with "${SECRET_REF_PREFIX}" for some parameter values; that prefix marks secret references`,
            ),
          );
      } else if (value.startsWith(SECRET_REF_PREFIX)) {
        errors.push(fieldError([...at, name], RESERVED_VALUE));
      }
    }
  }
}

const PARAMETER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Whether some task of the sweep renders `template` to a string starting with `prefix` (which has no
 * digit), without expanding the sweep: the template is read part by part, keeping how much of the
 * prefix each rendering so far can have matched. A parameter used twice is treated as two (its uses
 * may differ), which can only say yes more often. A range renders `-?digits`: with a digit in its
 * first two characters it can only finish a prefix ending in its minus sign, never continue one.
 * `heads` keeps each list parameter's distinct beginnings between calls with the same prefix.
 */
export function mayRenderWithPrefix(
  template: string,
  parameters: SweepSpec['parameters'],
  prefix: string,
  heads = new Map<string, Set<string>>(),
): boolean {
  const parts: ({ literal: string } | { parameter: string })[] = [];
  let last = 0;
  for (const m of template.matchAll(PARAMETER)) {
    if (!Object.hasOwn(parameters, m[1]!)) continue;
    parts.push({ literal: template.slice(last, m.index) }, { parameter: m[1]! });
    last = m.index + m[0].length;
  }
  parts.push({ literal: template.slice(last) });
  let matched = new Set([0]);
  for (const part of parts) {
    const values = 'literal' in part ? part.literal : parameters[part.parameter]!;
    const candidates = (list: readonly (string | number)[]) => {
      const name = 'parameter' in part ? part.parameter : '';
      let set = heads.get(name);
      if (!set) {
        set = new Set(list.map((raw) => String(raw).slice(0, prefix.length)));
        heads.set(name, set);
      }
      return set;
    };
    const next = new Set<number>();
    for (const k of matched) {
      const rest = prefix.slice(k);
      if (!Array.isArray(values) && typeof values !== 'string') {
        if (rest === '-' && values.from < 0) return true;
        continue;
      }
      for (const c of typeof values === 'string' ? [values] : candidates(values)) {
        if (c.length >= rest.length) {
          if (c.startsWith(rest)) return true;
        } else if (rest.startsWith(c)) {
          next.add(k + c.length);
        }
      }
    }
    if (next.size === 0) return false;
    matched = next;
  }
  return false;
}
