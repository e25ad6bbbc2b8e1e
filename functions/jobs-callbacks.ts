import { z } from 'zod';
import type { AppDeps } from '../shared/app/app.js';
import { jsonResponse, problems } from '../shared/interfaces/http/problem.js';
import { readJsonBody } from '../shared/interfaces/http/read-json.js';
import {
  isCurrentAttempt,
  parseCallbackToken,
  verifyTaskCallbackToken,
} from '../shared/model/callback-token.js';
import { fieldError } from '../shared/model/validate-request.js';
import { requestReconcile } from '../shared/usecases/request-reconcile.js';
import type { HttpFunction } from './definition.js';

const callbackBody = z.strictObject({
  taskId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  status: z.enum(['completed', 'failed', 'progress']).optional(),
  exitCode: z.number().int().optional(),
  message: z.string().max(1000).optional(),
});

/**
 * POST /api/jobs/{id}/callbacks — a task reports back early with its per-job token
 * (`SLOTWISE_CALLBACK_TOKEN` in its environment). Asks for a reconcile of the job, at most one per
 * job per 5 s (shared/usecases/request-reconcile.ts): 202 with `reconcile` saying whether one was
 * queued now, scheduled for the end of the window, already pending (`coalesced`) or not needed (the
 * job is not running); what the task says is a hint, Batch's state remains the truth. The token must
 * name this job and its tenant, be unexpired and carry a MAC made with the tenant's callback key;
 * every failure is the same 401, so a caller learns nothing about other tenants or jobs.
 */
export const jobsCallbacks: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsCallbacks',
  methods: ['POST'],
  route: 'jobs/{id}/callbacks',
  handler: async (request, _context, deps) => {
    const id = request.params.id ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
    const claimed = token ? parseCallbackToken(token) : undefined;
    const tenant = claimed ? await deps.tenants.get(claimed.tenant) : undefined;
    const check =
      token && tenant?.callbackKey
        ? verifyTaskCallbackToken({
            token,
            tenant: tenant.id,
            jobId: id,
            callbackKey: tenant.callbackKey,
            now: deps.clock.now(),
          })
        : undefined;
    if (!tenant || !check?.ok) return problems.unauthorized();
    const body = await readJsonBody(request, 16 * 1024);
    if (body.kind === 'tooLarge') return problems.tooLarge(16 * 1024);
    if (body.kind === 'unsupportedMediaType') return problems.unsupportedMediaType();
    const parsed = callbackBody.safeParse(body.kind === 'ok' ? body.value : {});
    if (body.kind === 'malformed' && body.detail !== 'The request body is empty.')
      return problems.malformedJson(body.detail);
    if (!parsed.success)
      return problems.invalidRequest(parsed.error.issues.map((i) => fieldError(i.path, i.message)));
    const job = await deps.jobs.get(tenant.id, id);
    if (!job) return problems.notFound(`Job '${id}'`);
    // A token of an attempt a retry has replaced no longer speaks for the job.
    if (!isCurrentAttempt(check.attempt, job)) return problems.unauthorized();
    // Coalesced per job (a token in every task's environment must not be a reconcile per call).
    const asked = await requestReconcile(job, deps);
    if (asked.kind === 'notFound') return problems.notFound(`Job '${id}'`);
    return jsonResponse(202, { jobId: job.jobId, reconcile: asked.kind });
  },
};
