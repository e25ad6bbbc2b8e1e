/**
 * Where results live in the results store: one Blob container per tenant in Slotwise's storage
 * account, so a SAS minted for one tenant's container can never reach another tenant's results.
 * Inside it, a job's results sit under its (caller's) job id; a task's logs under the Azure Batch
 * File Conventions' `$TaskLog` folder.
 */
import { createHash } from 'node:crypto';

/**
 * The tenant's container: Blob rules (3–63 chars of lowercase letters, digits and single hyphens,
 * starting with a letter or digit) from a readable part of the tenant id and a hash of the whole id,
 * so two tenant ids that differ only in case or in characters Blob refuses never share a container.
 */
export function resultsContainerName(tenantId: string): string {
  const readable = tenantId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 36)
    .replace(/-+$/g, '');
  const hash = createHash('sha256').update(tenantId).digest('hex').slice(0, 16);
  return readable ? `results-${readable}-${hash}` : `results-${hash}`;
}

/** The folder of one task's results: `<jobId>/<callerTaskId>`. */
export function taskResultsPrefix(jobId: string, callerTaskId: string): string {
  return `${jobId}/${callerTaskId}`;
}

/** Where a task's `stdout.txt` or `stderr.txt` is kept once it completed. */
export function taskLogPath(jobId: string, callerTaskId: string, file: 'stdout.txt' | 'stderr.txt'): string {
  return `${taskResultsPrefix(jobId, callerTaskId)}/$TaskLog/${file}`;
}
