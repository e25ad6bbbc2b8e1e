/**
 * Secret references: an environment value (or an Azure Files account key) given as
 * `{ "secretRef": "<name>" }` names one of the tenant's secrets, granted by the operator. The request,
 * the job document and every planned body hold only the name; a planned value that is exactly
 * `slotwise-secret:<name>` (SECRET_REF_PREFIX + name) is replaced by the secret's value at the moment
 * the body is sent to Batch, and nowhere else.
 */
import { z } from 'zod';

/** Secret names as the operator grants them: they become part of a Key Vault secret name. */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** The prefix of a planned value that stands for a secret (see secretPlaceholder in batch-bodies.ts). */
export const SECRET_REF_PREFIX = 'slotwise-secret:';

/**
 * The longest secret value, in UTF-8 bytes once written as a JSON string (escapes included), that
 * may replace a placeholder. Chunks are cut with every placeholder counted at this size, so a chunk
 * under Batch's body limit stays under it once resolved; a longer value is refused when resolved.
 */
export const MAX_SECRET_VALUE_LENGTH = 4096;

export const secretNameSchema = z
  .string()
  .regex(SECRET_NAME_PATTERN, 'must be 1 to 64 letters, digits and hyphens (a secret name)');

export const secretRefSchema = z.strictObject({ secretRef: secretNameSchema });

export type SecretRef = z.infer<typeof secretRefSchema>;

export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === 'object' && value !== null && typeof (value as SecretRef).secretRef === 'string';
}

/** The planned value standing for the tenant's secret `name`. */
export function secretPlaceholder(name: string): string {
  return `${SECRET_REF_PREFIX}${name}`;
}

/** The secret a planned value stands for, or undefined for a plain value. */
export function secretNameOf(value: string): string | undefined {
  if (!value.startsWith(SECRET_REF_PREFIX)) return undefined;
  const name = value.slice(SECRET_REF_PREFIX.length);
  return SECRET_NAME_PATTERN.test(name) ? name : undefined;
}

export function isSecretPlaceholder(value: string): boolean {
  return secretNameOf(value) !== undefined;
}

/** Whether a resolved secret value fits what chunk sizing reserved for it (MAX_SECRET_VALUE_LENGTH). */
export function secretValueFits(value: string): boolean {
  return Buffer.byteLength(JSON.stringify(value)) - 2 <= MAX_SECRET_VALUE_LENGTH;
}
