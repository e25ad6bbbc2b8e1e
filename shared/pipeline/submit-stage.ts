/**
 * Submit stage (queue `slotwise-submit`): planned → submitting → submitted.
 *
 * Exactly-once in effect, whatever is redelivered:
 * - one invocation at a time works on a job: it claims a lease on the document (ETag-guarded);
 *   others that see a live lease return at once (the sweep re-drives a job whose holder died);
 * - the pool and the Batch job are created by id, and `PoolExists` / `JobExists` for our own
 *   resource count as success;
 * - progress (chunks and tasks added) is recorded on the document after every round, so a resumed
 *   submission starts at the first chunk not added; a task found already present (`TaskExists` after
 *   a crash mid-round) counts as added. The plan's chunks are rebuilt from the stored request, never
 *   stored (`ChunkStore.read`);
 * - the work is sliced: after `sliceMs` the invocation records progress and continues in a new
 *   message, so a million-task job never runs one invocation near `functionTimeout`.
 * Failures Batch calls permanent (client errors, invalid pool) fail the job with Batch's code and
 * message; after a transient one the message is sent again with a growing delay. A full Batch account
 * (`PoolQuotaReached`, `ActiveJobAndScheduleQuotaReached`: quotas every tenant shares) is neither: the
 * job waits with that reason and is tried again with backoff until there is room, and never fails for
 * it. Once a resubmitted attempt is in Batch, the ended Batch jobs of the attempts before it are deleted.
 */

import type { BatchAccounts } from '../adapters/batch/accounts.js';
import { BatchError } from '../adapters/batch/batch-error.js';
import type { AddTasksOutcome, BatchGateway } from '../adapters/batch/batch-gateway.js';
import type { Settings } from '../adapters/config/config.js';
import type { Chunk, ChunkStore } from '../adapters/cosmos/chunk-store.js';
import type { JobStore } from '../adapters/cosmos/job-store.js';
import type { PoolStore } from '../adapters/cosmos/pool-store.js';
import type { TenantStore } from '../adapters/cosmos/tenant-store.js';
import { queueNames } from '../adapters/queues/names.js';
import type { QueueGateway } from '../adapters/queues/queue-gateway.js';
import type { Clock, Ids } from '../core/clock.js';
import { describeError, SlotwiseError } from '../core/errors.js';
import { redactSas } from '../core/redact-sas.js';
import type { JobBody, NameValue, PoolBody } from '../model/batch-bodies.js';
import { isOwnJob, isOwnPool, type JobOwner, poolOwnerOf } from '../model/batch-names.js';
import { attemptOf, callbackTokenExpiry, taskCallbackToken } from '../model/callback-token.js';
import type { JobDoc } from '../model/job.js';
import { makeEvent, transition } from '../model/lifecycle.js';
import type { PipelineMessage } from '../model/pipeline-message.js';
import { announce } from './announce.js';
import { inAccount } from './job-account.js';
import {
  DEFAULT_LEASE_MS,
  heartbeatEveryMs,
  keepLeaseAlive,
  type LeaseHeartbeat,
  renewStageLease,
} from './lease-heartbeat.js';
import { WAITING_EVENT_TYPE } from './notify-stage.js';
import { type ResultsSas, resolveResultsStore } from './results-sas.js';
import { type SecretResolver, type SecretSender, secretSender } from './secret-values.js';
import { deleteSupersededAttempts } from './superseded-attempts.js';

export interface SubmitStageDeps {
  readonly jobs: JobStore;
  readonly chunks: ChunkStore;
  readonly pools: PoolStore;
  readonly batch: BatchGateway;
  /** Every account: the job's calls go to its own (`batch.account`). */
  readonly accounts?: Pick<BatchAccounts, 'gateway'>;
  readonly queues: QueueGateway;
  readonly tenants: TenantStore;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly settings: Pick<Settings, 'SLOTWISE_PUBLIC_URL'> &
    Partial<
      Pick<
        Settings,
        | 'SLOTWISE_BATCH_AUTH_GRACE_SECONDS'
        | 'SLOTWISE_SUBMIT_RETRY_BASE_SECONDS'
        | 'SLOTWISE_QUOTA_RETRY_SECONDS'
        | 'SLOTWISE_RESULTS_SAS_HOURS'
      >
    >;
  /** The tenant's results store SAS, put in place of `RESULTS_STORE_URL` as bodies go to Batch. */
  readonly resultsSas?: ResultsSas;
  /** The tenant's task environment secrets, put in place of their placeholders as bodies go to Batch. */
  readonly secrets?: SecretResolver;
  readonly log?: (message: string) => void;
  /**
   * How long a claim on a job lasts without renewal. Default 30 s (`DEFAULT_LEASE_MS`): a live holder
   * renews it on a heartbeat, so a dead holder's job is taken over within about that long.
   */
  readonly leaseMs?: number;
  /** Chunks fetched and sent per round. Default 20 (2,000 tasks). */
  readonly chunksPerRound?: number;
  /**
   * After this long an invocation stops taking new rounds, records where it is and continues in a new
   * message, so no invocation nears `functionTimeout` whatever the job's size or Batch's throttling.
   * Default 120 s (the shortest `functionTimeout`, Consumption's default, is 5 minutes).
   */
  readonly sliceMs?: number;
}

export const DEFAULT_SUBMIT_SLICE_MS = 120_000;

export type SubmitStageResult =
  | 'submitted'
  | 'failed'
  | 'cancelled'
  | 'busy'
  | 'skipped'
  | 'missing'
  | 'retrying'
  | 'waiting'
  | 'continued';

/** Batch's answers that the account (every tenant's) is full: wait for room, never fail the job. */
export const ACCOUNT_QUOTA_CODES: ReadonlySet<string> = new Set([
  'PoolQuotaReached',
  'ActiveJobAndScheduleQuotaReached',
]);

/**
 * Delay before the next try while the account is full, by attempt (1-based): the quota retry time
 * (30 s by default) doubling to a cap of 10 minutes. Room comes as other jobs end, in minutes.
 */
export function accountQuotaDelaySeconds(attempt: number, baseSeconds = 30): number {
  return Math.min(600, baseSeconds * 2 ** Math.max(0, attempt - 1));
}

/**
 * The holder of a lease that only keeps the sweep from re-driving a job that waits for room (its own
 * delayed message is on the way): any submitter may claim over it.
 */
const WAITING_HOLDER = '~waiting-for-room';

/**
 * Delay before the next try after a transient failure, by attempt (1-based): 10 s doubling to a cap
 * of 10 minutes. The Batch client has already retried the call itself; this spaces out whole
 * submissions during a longer outage, without ever giving up (the job stays `submitting`).
 */
export function submitRetryDelaySeconds(attempt: number, baseSeconds = 10): number {
  return Math.min(600, baseSeconds * 2 ** Math.max(0, attempt - 1));
}

/** Raised inside the stage to end the job as failed with Batch's code and message. */
class PermanentFailure extends SlotwiseError {}

export async function runSubmitStage(
  message: PipelineMessage,
  owner: string,
  deps: SubmitStageDeps,
): Promise<SubmitStageResult> {
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const claim = await deps.jobs.update(message.tenant, message.jobId, (job) => {
    if (job.state !== 'planned' && job.state !== 'submitting') return undefined;
    const now = deps.clock.now();
    const lease = job.submission?.lease;
    if (
      lease &&
      lease.owner !== owner &&
      lease.owner !== WAITING_HOLDER &&
      Date.parse(lease.until) > now.getTime()
    )
      return undefined;
    const moved = job.state === 'planned' ? transition(job, 'submitting', now, deps.ids.uuid()) : job;
    const submission = moved.submission ?? { chunksTotal: 0, chunksAdded: 0, tasksAdded: 0, attempts: 0 };
    return {
      ...moved,
      submission: {
        ...submission,
        attempts: submission.attempts + 1,
        lease: { owner, until: new Date(now.getTime() + leaseMs).toISOString() },
      },
    };
  });
  if (!claim) return 'missing';
  if (!claim.changed) return claim.job.state === 'submitting' ? 'busy' : 'skipped';
  // The lease is short; it stays ours while the work goes on, however long a round takes.
  const heartbeat = keepLeaseAlive(
    () =>
      renewStageLease(deps.jobs, claim.job, 'submission', owner, () =>
        new Date(deps.clock.now().getTime() + leaseMs).toISOString(),
      ),
    heartbeatEveryMs(leaseMs),
    deps.log,
  );
  try {
    return await submitClaimed(claim.job, message, owner, leaseMs, heartbeat, deps);
  } finally {
    await heartbeat.stop();
  }
}

async function submitClaimed(
  claimed: JobDoc,
  message: PipelineMessage,
  owner: string,
  leaseMs: number,
  heartbeat: LeaseHeartbeat,
  stageDeps: SubmitStageDeps,
): Promise<SubmitStageResult> {
  let job = claimed;
  const deps = inAccount(stageDeps, job.batch?.account);
  await announce(job, deps.queues);
  const bodies = job.batchBodies;
  const refs = job.batch;
  if (!bodies || !refs) return failJob(job, 'PlanMissing', 'The job has no plan to submit', deps);
  // Values go into the bodies sent to Batch only; anything kept that Batch might quote is redacted.
  const secrets = secretSender(job.tenant, deps.secrets);

  try {
    await ensurePool(job, deps);
    const submission = job.submission ?? { chunksTotal: 0, chunksAdded: 0, tasksAdded: 0, attempts: 0 };
    const planned = job.plan?.chunks ?? 0;
    // A resubmission's chunks start after the plan's (and after earlier attempts'): never re-add those.
    const retryFrom =
      job.retry?.status === 'done' && job.retry.mode === 'resubmitted' ? (job.retry.output?.from ?? 0) : 0;
    let next = Math.max(submission.chunksAdded, retryFrom);
    let tasksAdded = submission.tasksAdded;
    // Every chunk already in means an earlier attempt got as far as the last step; its Batch job may
    // legitimately have run to the end since.
    await ensureBatchJob(job, bodies.job, deps, next >= submission.chunksTotal, secrets);
    job = await clearRoomWait(job, deps);
    const round = deps.chunksPerRound ?? 20;
    const sliceMs = deps.sliceMs ?? DEFAULT_SUBMIT_SLICE_MS;
    const startedAt = deps.clock.now().getTime();
    // Plan chunks are rebuilt from the request starting at the first task not added (`tasksAdded` is
    // exactly the tasks of chunks before `next` while `next` is inside the plan); stored ones are read
    // by id. No query per round, whatever the job's size.
    const source = deps.chunks.read(job, next, next < planned ? { fromTask: tasksAdded } : {});
    let exhausted = false;
    const take = async () => {
      const chunks: Chunk[] = [];
      while (chunks.length < round) {
        const r = await source.next();
        if (r.done) {
          exhausted = true;
          break;
        }
        chunks.push(r.value);
      }
      return chunks;
    };
    // Two rounds in flight: the next round's bodies are built while Batch takes the current one, and
    // progress is recorded in order as rounds complete.
    const inFlight: { chunks: number; tasks: number; outcome: Promise<AddTasksOutcome> }[] = [];
    let overBudget = false;
    try {
      for (;;) {
        // Another holder took the job over (this one paused past its lease): stop at once.
        if (heartbeat.lost) return 'skipped';
        while (!exhausted && !overBudget && inFlight.length < 2) {
          const chunks = await take();
          if (chunks.length === 0) break;
          const tasks = await secrets.resolve(
            await resolveResultsStore(
              chunks.flatMap((c) => c.tasks),
              job,
              bodies.job,
              deps,
            ),
          );
          const outcome = deps.batch.addTasks(refs.jobId, tasks);
          outcome.catch(() => undefined); // awaited in order below; never left unhandled
          inFlight.push({ chunks: chunks.length, tasks: tasks.length, outcome });
        }
        const head = inFlight.shift();
        if (!head) break;
        const outcome = await head.outcome;
        if (outcome.failed.length > 0) {
          const first = outcome.failed[0]!;
          throw new PermanentFailure(
            first.code,
            secrets.redact(
              `Batch refused ${outcome.failed.length} task(s), first '${first.taskId}': ${first.message}`,
            ),
          );
        }
        next += head.chunks;
        tasksAdded += head.tasks;
        const at = deps.clock.now();
        const reached = { chunks: next, tasks: tasksAdded };
        const progress = await deps.jobs.update(job.tenant, job.jobId, (current) => {
          if (current.state !== 'submitting' || !current.submission) return undefined;
          if (current.submission.lease?.owner !== owner) return undefined;
          return {
            ...current,
            updatedAt: at.toISOString(),
            submission: {
              ...current.submission,
              // Absolute, not added: a repeated round (a redelivered message) cannot count twice.
              chunksAdded: Math.max(current.submission.chunksAdded, reached.chunks),
              tasksAdded: Math.max(current.submission.tasksAdded, reached.tasks),
              lease: { owner, until: new Date(at.getTime() + leaseMs).toISOString() },
            },
          };
        });
        if (!progress) return 'missing';
        job = progress.job;
        if (job.state === 'cancelled') {
          await deps.batch.terminateJob(refs.jobId, 'Cancelled in Slotwise', ownerOf(job));
          return 'cancelled';
        }
        if (!progress.changed) return 'skipped';
        if (at.getTime() - startedAt >= sliceMs) overBudget = true;
      }
    } finally {
      await source.return(undefined);
    }
    if (!exhausted) return await continueLater(job, message, owner, deps);
    // A TES lane stays open: its tasks arrive over time (pipeline/tes-submit.ts adds them).
    if (!job.lane) await deps.batch.terminateJobWhenTasksComplete(refs.jobId);
    const done = await deps.jobs.update(job.tenant, job.jobId, (current) => {
      if (current.state !== 'submitting') return undefined;
      const {
        lease: _released,
        authFailingSince: _ok,
        ...submission
      } = current.submission ?? {
        chunksTotal: 0,
        chunksAdded: 0,
        tasksAdded: 0,
        attempts: 0,
      };
      return transition(current, 'submitted', deps.clock.now(), deps.ids.uuid(), { submission });
    });
    if (done?.changed) {
      await announce(done.job, deps.queues);
      await removeSupersededChunks(done.job, deps);
      await deleteSupersededAttempts(done.job, deps);
      return 'submitted';
    }
    if (done?.job.state === 'cancelled') {
      await deps.batch.terminateJob(refs.jobId, 'Cancelled in Slotwise', ownerOf(job));
      return 'cancelled';
    }
    return 'skipped';
  } catch (e) {
    if (isAuthenticationError(e)) return waitOutAuthentication(job, message, owner, e, deps);
    if (e instanceof BatchError && ACCOUNT_QUOTA_CODES.has(e.code))
      return waitForAccountRoom(job, message, owner, e.code, deps);
    if (e instanceof SlotwiseError && !e.retryable) {
      return failJob(job, e.code, secrets.redact(e.message), deps, refs.jobId);
    }
    await releaseLease(job, owner, e, deps, secrets.redact);
    // Re-queued with a delay rather than thrown: the host would retry at once and then poison it.
    await deps.queues.send(queueNames.submit, message, {
      delaySeconds: submitRetryDelaySeconds(
        job.submission?.attempts ?? 1,
        deps.settings.SLOTWISE_SUBMIT_RETRY_BASE_SECONDS,
      ),
    });
    return 'retrying';
  }
}

/**
 * Batch said 401/403: a key being rotated, clock skew, a role assignment still propagating. None of
 * that is the job's fault, so nothing is failed or terminated at once: the submission waits with the
 * usual backoff, and only after `SLOTWISE_BATCH_AUTH_GRACE_SECONDS` of nothing but authentication
 * errors does the job fail — still without touching Batch, where we cannot act anyway.
 */
function isAuthenticationError(e: unknown): e is BatchError {
  return e instanceof BatchError && (e.status === 401 || e.status === 403);
}

async function waitOutAuthentication(
  job: JobDoc,
  message: PipelineMessage,
  owner: string,
  error: BatchError,
  deps: SubmitStageDeps,
): Promise<SubmitStageResult> {
  const now = deps.clock.now();
  const since = job.submission?.authFailingSince ?? now.toISOString();
  const graceMs = (deps.settings.SLOTWISE_BATCH_AUTH_GRACE_SECONDS ?? 1800) * 1000;
  if (now.getTime() - Date.parse(since) >= graceMs) {
    return failJob(
      job,
      'BatchAuthenticationFailed',
      `Batch refused Slotwise's credentials (${error.code}) for ${Math.round(graceMs / 60_000)} minutes`,
      deps,
    );
  }
  deps.log?.(
    `Batch authentication problem (${error.status} ${error.code}); submission of ${job.jobId} waits`,
  );
  await deps.jobs
    .update(job.tenant, job.jobId, (current) => {
      if (current.submission?.lease?.owner !== owner) return undefined;
      const { lease: _released, ...submission } = current.submission;
      return {
        ...current,
        submission: { ...submission, authFailingSince: since, lastError: `${error.status} ${error.code}` },
      };
    })
    .catch(() => undefined);
  await deps.queues.send(queueNames.submit, message, {
    delaySeconds: submitRetryDelaySeconds(
      job.submission?.attempts ?? 1,
      deps.settings.SLOTWISE_SUBMIT_RETRY_BASE_SECONDS,
    ),
  });
  return 'retrying';
}

const roomWaitMessages: Record<string, string> = {
  PoolQuotaReached:
    "The Batch account has reached its quota of pools, which all tenants share; the job's pool is created once there is room.",
  ActiveJobAndScheduleQuotaReached:
    'The Batch account has reached its quota of active jobs, which all tenants share; the job is submitted once there is room.',
};

/**
 * The Batch account is full: the job keeps its place (`submitting`, progress kept), shows why it
 * waits (once, with a `slotwise.job.waiting` event), and is tried again after a growing delay. The
 * lease is left to a holder any submitter may claim over, so the sweep does not re-drive the job
 * before its delayed message comes (it does once the hold lapses, should that message be lost).
 */
async function waitForAccountRoom(
  job: JobDoc,
  message: PipelineMessage,
  owner: string,
  code: string,
  deps: SubmitStageDeps,
): Promise<SubmitStageResult> {
  const now = deps.clock.now();
  const delaySeconds = accountQuotaDelaySeconds(
    job.submission?.attempts ?? 1,
    deps.settings.SLOTWISE_QUOTA_RETRY_SECONDS,
  );
  let announced = false;
  const held = await deps.jobs
    .update(job.tenant, job.jobId, (current) => {
      announced = false;
      if (current.state !== 'submitting' || current.submission?.lease?.owner !== owner) return undefined;
      const hold = {
        owner: WAITING_HOLDER,
        until: new Date(now.getTime() + (delaySeconds + 60) * 1000).toISOString(),
      };
      const next: JobDoc = {
        ...current,
        submission: { ...current.submission, lease: hold, lastError: `409 ${code}` },
      };
      if (current.waiting?.code === code) return next;
      const iso = now.toISOString();
      next.waiting = { code, message: roomWaitMessages[code] ?? code, since: iso };
      next.updatedAt = iso;
      next.events = [
        ...current.events,
        { ...makeEvent(next, current.state, iso, deps.ids.uuid()), type: WAITING_EVENT_TYPE },
      ];
      announced = true;
      return next;
    })
    .catch(() => undefined);
  if (held?.changed && announced) await announce(held.job, deps.queues);
  deps.log?.(`Batch account full (${code}); submission of ${job.jobId} waits ${delaySeconds} s`);
  await deps.queues.send(queueNames.submit, message, { delaySeconds });
  return 'waiting';
}

/** Room came: a wait for it is over (other waits, with a deadline, are the pool controller's). */
async function clearRoomWait(job: JobDoc, deps: SubmitStageDeps): Promise<JobDoc> {
  if (!job.waiting || job.waiting.failAt !== undefined || !ACCOUNT_QUOTA_CODES.has(job.waiting.code))
    return job;
  const cleared = await deps.jobs.update(job.tenant, job.jobId, (current) => {
    if (
      !current.waiting ||
      current.waiting.failAt !== undefined ||
      !ACCOUNT_QUOTA_CODES.has(current.waiting.code)
    )
      return undefined;
    const { waiting: _over, ...rest } = current;
    return { ...rest, updatedAt: deps.clock.now().toISOString() };
  });
  return cleared?.job ?? job;
}

async function ensurePool(job: JobDoc, deps: SubmitStageDeps): Promise<void> {
  const refs = job.batch!;
  const poolBody = job.batchBodies?.pool;
  if (!poolBody) {
    const existing = await deps.batch.getPool(refs.poolId);
    if (!existing) throw new PermanentFailure('PoolNotFound', `Pool '${refs.poolId}' does not exist`);
    return;
  }
  const owner = poolOwnerOf(poolBody.metadata);
  if (!owner || owner.tenant !== job.tenant) {
    throw new PermanentFailure(
      'PlanInvalid',
      `The plan's pool '${poolBody.id}' is not stamped for this tenant`,
    );
  }
  // Submitters never resize (two resizes of one pool race, and jobs sharing a pool would each size it
  // for themselves): the pool is created empty, the job's demand is its plan on the job document, and
  // the pool controller sizes the pool for every job on it, woken at once by a message.
  const body: PoolBody = { ...poolBody, targetDedicatedNodes: 0, targetLowPriorityNodes: 0 };
  await deps.pools.register(body, owner, deps.clock.now(), refs.account);
  const created = await deps.batch.createPool(body);
  if (created === 'exists') {
    const pool = await deps.batch.getPool(poolBody.id);
    if (pool && !isOwnPool(pool.metadata, owner)) {
      throw new PermanentFailure(
        'PoolExists',
        `Pool '${pool.id}' exists and was not created by Slotwise for this tenant and pool spec`,
      );
    }
  }
  // A pool being deleted (the controller found it idle a moment ago) is not an error: Batch accepts a
  // job for a pool id that is not there yet, and the controller creates the pool again once the old
  // one is gone, because this job's demand is on it.
  await deps.queues.send(queueNames.pools, { tenant: job.tenant, poolId: poolBody.id });
}

async function ensureBatchJob(
  job: JobDoc,
  body: JobBody,
  deps: SubmitStageDeps,
  mayHaveEnded: boolean,
  secrets: SecretSender,
): Promise<void> {
  const environment: NameValue[] = [{ name: 'SLOTWISE_JOB_ID', value: job.jobId }];
  const tenant = await deps.tenants.get(job.tenant);
  // The token is keyed by the tenant's callback key (not the webhook secret, whose rotation must not
  // break running jobs) and outlives the Batch job's wall-clock limit. A tenant created before callback
  // keys existed gets none until `tenant:add` runs for it again.
  if (tenant?.callbackKey && deps.settings.SLOTWISE_PUBLIC_URL) {
    const base = deps.settings.SLOTWISE_PUBLIC_URL.replace(/\/+$/, '');
    environment.push(
      { name: 'SLOTWISE_CALLBACK_URL', value: `${base}/api/jobs/${encodeURIComponent(job.jobId)}/callbacks` },
      {
        name: 'SLOTWISE_CALLBACK_TOKEN',
        value: taskCallbackToken({
          tenant: job.tenant,
          jobId: job.jobId,
          // Bound to this attempt: a resubmission's tasks get a token of their own, and this one
          // stops working once a retry replaces the attempt.
          attempt: attemptOf(job),
          callbackKey: tenant.callbackKey,
          expiresAt: callbackTokenExpiry(deps.clock.now(), body.constraints?.maxWallClockTime),
        }),
      },
    );
  }
  const created = await deps.batch.createJob(
    await secrets.resolve(
      await resolveResultsStore({ ...body, commonEnvironmentSettings: environment }, job, body, deps),
    ),
  );
  if (created === 'created') return;
  const existing = await deps.batch.getJob(body.id);
  if (!existing)
    throw new SlotwiseError('JobNotFound', `Batch job '${body.id}' vanished`, { retryable: true });
  if (!isOwnJob(existing.metadata, ownerOf(job))) {
    throw new PermanentFailure(
      'JobExists',
      `Batch job '${body.id}' exists and was not created by Slotwise for this job`,
    );
  }
  if (existing.state !== 'active' && !mayHaveEnded) {
    throw new PermanentFailure('JobNotActive', `Batch job '${body.id}' is ${existing.state}`);
  }
}

function ownerOf(job: JobDoc): JobOwner {
  return { tenant: job.tenant, jobId: job.jobId };
}

async function failJob(
  job: JobDoc,
  code: string,
  message: string,
  deps: SubmitStageDeps,
  batchJobId?: string,
): Promise<SubmitStageResult> {
  const result = await deps.jobs.update(job.tenant, job.jobId, (current) =>
    current.state === 'submitting' || current.state === 'planned'
      ? transition(current, 'failed', deps.clock.now(), deps.ids.uuid(), {
          // Batch's messages may quote a URL; a SAS never reaches the document, events or answers.
          failure: { code, message: redactSas(message) },
        })
      : undefined,
  );
  if (batchJobId) {
    // Tasks already added must not run for a failed submission. The guard leaves a Batch job that
    // is not this job's alone (a foreign `JobExists` fails the new job, never the old one).
    await deps.batch.terminateJob(batchJobId, 'Submission failed', ownerOf(job)).catch(() => undefined);
  }
  if (result?.changed) await announce(result.job, deps.queues);
  return 'failed';
}

async function releaseLease(
  job: JobDoc,
  owner: string,
  error: unknown,
  deps: SubmitStageDeps,
  redact: (text: string) => string = (text) => text,
): Promise<void> {
  const reason =
    error instanceof SlotwiseError ? `${error.code}: ${redact(error.message)}` : describeError(error);
  await deps.jobs
    .update(job.tenant, job.jobId, (current) => {
      if (current.submission?.lease?.owner !== owner) return undefined;
      const { lease: _released, authFailingSince: _cleared, ...submission } = current.submission;
      return { ...current, submission: { ...submission, lastError: redactSas(reason).slice(0, 500) } };
    })
    .catch(() => undefined);
}

/** Out of time for this invocation: the lease goes, progress stays, and a new message carries on. */
async function continueLater(
  job: JobDoc,
  message: PipelineMessage,
  owner: string,
  deps: SubmitStageDeps,
): Promise<SubmitStageResult> {
  const released = await deps.jobs.update(job.tenant, job.jobId, (current) => {
    if (current.state !== 'submitting' || current.submission?.lease?.owner !== owner) return undefined;
    const { lease: _released, ...submission } = current.submission;
    return { ...current, submission: { ...submission, attempts: Math.max(0, submission.attempts - 1) } };
  });
  if (!released?.changed) return released?.job.state === 'cancelled' ? 'cancelled' : 'skipped';
  await deps.queues.send(queueNames.submit, message);
  return 'continued';
}

/**
 * A resubmission in Batch replaces the attempt it retried: that attempt's stored chunks (a previous
 * retry's output; the plan's own are never stored) are not needed again. Best effort: they expire by
 * their `ttl` anyway.
 */
async function removeSupersededChunks(job: JobDoc, deps: SubmitStageDeps): Promise<void> {
  const retry = job.retry;
  if (retry?.mode !== 'resubmitted' || retry.status !== 'done') return;
  const from = Math.max(retry.source.from, job.plan?.chunks ?? 0);
  if (from >= retry.source.to) return;
  await deps.chunks
    .remove(job.tenant, job.jobId, { from, to: retry.source.to })
    .catch((e: unknown) =>
      deps.log?.(`Chunks of an earlier attempt stay until they expire: ${describeError(e)}`),
    );
}
