/**
 * Task environment secrets, put in place at the last moment. A job's `{ "secretRef": "<name>" }`
 * environment values are planned as the placeholder `slotwise-secret:<name>`, and plans, stored chunks,
 * events and answers keep it; just before a round of tasks (or the Batch job, for its preparation and
 * release tasks) goes to Batch, every `environmentSettings[].value` that is a placeholder becomes the
 * tenant's value. Resolved bodies go to Batch only: never stored, logged or returned.
 *
 * Each round resolves each name once (the resolver's cache makes that one vault read per name per TTL
 * across rounds). A value Batch might quote back in an error is redacted from anything kept.
 */
import { EnvSecretError, TOO_LONG } from '../adapters/key-vault/env-secrets.js';
import { SlotwiseError } from '../core/errors.js';
import { rewriteTree } from '../core/rewrite-tree.js';
import { secretNameOf } from '../model/batch-bodies.js';
import { secretValueFits } from '../model/secret-refs.js';

export interface SecretResolver {
  /** The value of `tenant`'s secret `name`; throws a typed, value-free error. */
  resolveSecret(tenant: string, name: string): Promise<string>;
}

/** The secret a planned environment value stands for, or undefined for a plain value. */
function secretRefOf(value: unknown): string | undefined {
  return typeof value === 'string' ? secretNameOf(value) : undefined;
}

const isNameValueList = (v: unknown): v is { name: string; value: unknown }[] =>
  Array.isArray(v) && v.every((e) => typeof e === 'object' && e !== null && 'value' in e);

/** Every secret name that `value` (task bodies, a job body) references in an `environmentSettings`. */
export function secretRefsIn(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) secretRefsIn(v, into);
    return into;
  }
  if (typeof value !== 'object' || value === null) return into;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'environmentSettings' && isNameValueList(v)) {
      for (const setting of v) {
        const name = secretRefOf(setting.value);
        if (name !== undefined) into.add(name);
      }
    } else if (typeof v === 'object' && v !== null) secretRefsIn(v, into);
  }
  return into;
}

/** `value` with placeholders in `environmentSettings` replaced; parts without one are shared, not copied. */
export function withSecretValues<T>(value: T, values: ReadonlyMap<string, string>): T {
  return rewriteTree(value, (key, v) => {
    if (key !== 'environmentSettings' || !isNameValueList(v)) return undefined;
    let changed = false;
    const settings = v.map((setting) => {
      const name = secretRefOf(setting.value);
      const resolved = name === undefined ? undefined : values.get(name);
      if (resolved === undefined) return setting;
      changed = true;
      return { ...setting, value: resolved };
    });
    return changed ? settings : v;
  });
}

/** What one submission uses: resolves bodies for a tenant and remembers the values, to redact them. */
export interface SecretSender {
  /** `bodies` with the tenant's values in place; unchanged (the same object) when none references one. */
  resolve<T>(bodies: T): Promise<T>;
  /** `text` with every value this sender resolved replaced by `REDACTED`. */
  redact(text: string): string;
}

export function secretSender(tenant: string, resolver: SecretResolver | undefined): SecretSender {
  const sent = new Set<string>();
  return {
    async resolve(bodies) {
      const names = secretRefsIn(bodies);
      if (names.size === 0) return bodies;
      if (!resolver)
        throw new SlotwiseError(
          'SecretsNotConfigured',
          'The job references task environment secrets, and no secret store is configured',
        );
      const values = new Map<string, string>();
      await Promise.all(
        [...names].map(async (name) => {
          const value = await resolver.resolveSecret(tenant, name);
          // Chunks are sized with each placeholder counted at MAX_SECRET_VALUE_LENGTH: a longer value
          // could push a task collection past Batch's request limit (whatever resolver gave it).
          if (!secretValueFits(value))
            throw new EnvSecretError(
              'SecretTooLong',
              `Secret '${name}' of tenant '${tenant}' is ${TOO_LONG}. Set a shorter value and submit the job again.`,
              { retryable: false },
            );
          values.set(name, value);
          if (value !== '') {
            sent.add(value);
            // As an error message quoting a JSON body would spell it.
            sent.add(JSON.stringify(value).slice(1, -1));
          }
        }),
      );
      return withSecretValues(bodies, values);
    },
    redact(text) {
      let out = text;
      // Longest first, so a value containing another is replaced whole.
      for (const value of [...sent].sort((a, b) => b.length - a.length))
        out = out.split(value).join('REDACTED');
      return out;
    },
  };
}
