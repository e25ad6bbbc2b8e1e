/**
 * Test-only controls under `/_emulator/` (no auth, plain JSON, never faulted):
 * health, faults, clock, counters, transfers, reset, applications, quotas (jobs, pools, cores), timings,
 * task-count lag, preemption, bad nodes, start task failures, out-of-band pool/job events, and Azure
 * Files shares backed by host directories (`file-shares`: GET lists them; POST `{ accountName,
 * shareName, hostPath }` maps one, 204, the same again changes nothing; DELETE
 * `file-shares/{account}/{share}` ends one; file-shares.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Account } from './account.js';
import type { SimClock } from './clock.js';
import { coreUsage } from './core-quotas.js';
import { type FaultInjector, faultConfigSchema } from './faults.js';
import { FileShareError, fileShareSchema } from './file-shares.js';

export interface Counters {
  requests: Record<string, number>;
  taskAdds: Record<string, number>;
}

export interface ControlContext {
  readonly account: Account;
  readonly clock: SimClock;
  readonly faults: FaultInjector;
  readonly counters: Counters;
  readonly accountName: string;
  readonly apiVersions: readonly string[];
}

const clockSchema = z.object({
  factor: z.number().min(0).max(1_000_000).optional(),
  advanceSeconds: z.number().min(0).optional(),
});
const applicationsSchema = z.object({
  applications: z.array(
    z.object({
      id: z.string().min(1).max(64),
      displayName: z.string().optional(),
      versions: z.array(z.string().min(1)).default([]),
      defaultVersion: z.string().optional(),
    }),
  ),
  replace: z.boolean().default(false),
});
const quotasSchema = z.object({
  activeJobs: z.number().int().min(0).optional(),
  pools: z.number().int().min(0).optional(),
  dedicatedCoreQuota: z.number().int().min(0).optional(),
  lowPriorityCoreQuota: z.number().int().min(0).optional(),
  dedicatedCoreQuotaPerVMFamily: z
    .array(z.object({ name: z.string().min(1), coreQuota: z.number().int().min(0) }))
    .optional(),
  dedicatedCoreQuotaPerVMFamilyEnforced: z.boolean().optional(),
});
/** Batch's wording for the resize errors it documents; any other code gets a generic message. */
const resizeErrorMessages: Record<string, string> = {
  AccountCoreQuotaReached: 'The specified account has reached its dedicated core quota.',
  AccountLowPriorityCoreQuotaReached: 'The specified account has reached its low-priority core quota.',
  AllocationFailed: 'Desired number of nodes could not be allocated.',
  AllocationTimedout: 'Desired number of nodes could not be allocated as the resize timeout was reached.',
};
const failAllocationSchema = z.object({
  code: z.string().min(1).default('AccountCoreQuotaReached'),
  message: z.string().optional(),
});
const timingsSchema = z.object({
  allocationSeconds: z.number().min(0).optional(),
  nodeStartSeconds: z.number().min(0).optional(),
  deleteSeconds: z.number().min(0).optional(),
});
const taskCountsSchema = z.object({ lagSeconds: z.number().min(0) });
const recoverSchema = z.number().min(0).nullable().optional();
const preemptSchema = z.object({
  count: z.number().int().min(1).optional(),
  nodeIds: z.array(z.string()).min(1).optional(),
  recoverAfterSeconds: recoverSchema,
});
const badNodeSchema = z.object({
  /** Default: the pool's oldest node in service. */
  nodeId: z.string().min(1).optional(),
  fault: z.enum(['failTasks', 'unusable', 'starttaskfailed', 'healthy']),
});
const startTaskFailuresSchema = z.object({ count: z.number().int().min(0) });
const preemptionSchema = z.object({
  ratePerNodeHour: z.number().min(0),
  seed: z.number().int().optional(),
  recoverAfterSeconds: recoverSchema,
});

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parse<T>(schema: z.ZodType<T>, raw: Buffer): T {
  let value: unknown = {};
  if (raw.length > 0) {
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ControlError(400, 'The body is not JSON.');
    }
  }
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ControlError(400, r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}

export async function handleControl(
  ctx: ControlContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  raw: Buffer,
): Promise<void> {
  const reply = (status: number, json?: unknown) => {
    res.writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' });
    res.end(json === undefined ? undefined : JSON.stringify(json));
  };
  const { account, clock } = ctx;
  const method = req.method ?? 'GET';
  const clockView = () => ({ now: new Date(clock.now()).toISOString(), factor: clock.factor });
  try {
    account.advance();
    if (path === 'health' && method === 'GET')
      return reply(200, {
        status: 'up',
        accountName: ctx.accountName,
        apiVersions: ctx.apiVersions,
        ...clockView(),
      });
    if (path === 'faults') {
      if (method === 'PUT') {
        ctx.faults.set(parse(faultConfigSchema, raw));
        return reply(200, ctx.faults.describe());
      }
      if (method === 'DELETE') {
        ctx.faults.clear();
        return reply(204);
      }
      if (method === 'GET') return reply(200, ctx.faults.describe());
    }
    if (path === 'clock') {
      if (method === 'GET') return reply(200, clockView());
      if (method === 'POST') {
        const body = parse(clockSchema, raw);
        if (body.factor !== undefined) clock.setFactor(body.factor);
        if (body.advanceSeconds !== undefined) clock.advance(body.advanceSeconds * 1000);
        account.advance();
        return reply(200, clockView());
      }
    }
    if (path === 'counters' && method === 'GET') return reply(200, ctx.counters);
    if (path === 'transfers' && method === 'GET') return reply(200, account.transfers());
    if (path === 'reset' && method === 'POST') {
      account.reset();
      ctx.counters.requests = {};
      ctx.counters.taskAdds = {};
      ctx.faults.clear();
      return reply(204);
    }
    if (path === 'applications') {
      if (method === 'PUT') {
        const body = parse(applicationsSchema, raw);
        if (body.replace) account.applications.clear();
        for (const a of body.applications) {
          if (a.defaultVersion !== undefined && !a.versions.includes(a.defaultVersion))
            a.versions.push(a.defaultVersion);
          account.applications.set(a.id.toLowerCase(), {
            id: a.id,
            displayName: a.displayName ?? a.id,
            versions: a.versions,
            ...(a.defaultVersion !== undefined ? { defaultVersion: a.defaultVersion } : {}),
          });
        }
        return reply(200, { applications: [...account.applications.values()] });
      }
      if (method === 'GET') return reply(200, { applications: [...account.applications.values()] });
    }
    if (path === 'quotas') {
      const view = () => ({
        ...account.quotas,
        ...account.coreQuotas,
        usage: coreUsage(account.pools.values()),
      });
      if (method === 'PUT') {
        const { activeJobs, pools, ...cores } = parse(quotasSchema, raw);
        if (activeJobs !== undefined) account.quotas.activeJobs = activeJobs;
        if (pools !== undefined) account.quotas.pools = pools;
        account.coreQuotas = {
          dedicatedCoreQuota: cores.dedicatedCoreQuota ?? account.coreQuotas.dedicatedCoreQuota,
          lowPriorityCoreQuota: cores.lowPriorityCoreQuota ?? account.coreQuotas.lowPriorityCoreQuota,
          dedicatedCoreQuotaPerVMFamily:
            cores.dedicatedCoreQuotaPerVMFamily ?? account.coreQuotas.dedicatedCoreQuotaPerVMFamily,
          dedicatedCoreQuotaPerVMFamilyEnforced:
            cores.dedicatedCoreQuotaPerVMFamilyEnforced ??
            account.coreQuotas.dedicatedCoreQuotaPerVMFamilyEnforced,
        };
        return reply(200, view());
      }
      if (method === 'GET') return reply(200, view());
    }
    if (path === 'timings') {
      if (method === 'PUT') {
        const body = parse(timingsSchema, raw);
        if (body.allocationSeconds !== undefined) account.timings.allocationSeconds = body.allocationSeconds;
        if (body.nodeStartSeconds !== undefined) account.timings.nodeStartSeconds = body.nodeStartSeconds;
        if (body.deleteSeconds !== undefined) account.timings.deleteSeconds = body.deleteSeconds;
        return reply(200, account.timings);
      }
      if (method === 'GET') return reply(200, account.timings);
    }
    if (path === 'taskcounts') {
      if (method === 'PUT') {
        const body = parse(taskCountsSchema, raw);
        account.taskCounts.setLag(body.lagSeconds, account.jobs.values(), clock.now());
        return reply(200, { lagSeconds: account.taskCounts.lagSeconds });
      }
      if (method === 'GET') return reply(200, { lagSeconds: account.taskCounts.lagSeconds });
    }
    if (path === 'preemption') {
      if (method === 'PUT') {
        const body = parse(preemptionSchema, raw);
        account.setPreemptionRate({
          ratePerNodeHour: body.ratePerNodeHour,
          ...(body.seed !== undefined ? { seed: body.seed } : {}),
          ...(body.recoverAfterSeconds !== undefined
            ? { recoverAfterSeconds: body.recoverAfterSeconds }
            : {}),
        });
        return reply(200, account.preemption.describe());
      }
      if (method === 'DELETE') {
        account.setPreemptionRate({ ratePerNodeHour: 0 });
        return reply(204);
      }
      if (method === 'GET') return reply(200, account.preemption.describe());
    }
    if (path === 'file-shares') {
      if (method === 'GET') return reply(200, { fileShares: account.fileShares() });
      if (method === 'POST') {
        const mapping = parse(fileShareSchema, raw);
        try {
          account.mapFileShare(mapping);
        } catch (e) {
          if (e instanceof FileShareError) throw new ControlError(400, e.message);
          throw e;
        }
        return reply(204);
      }
    }
    const shareMatch = /^file-shares\/([^/]+)\/([^/]+)$/.exec(path);
    if (shareMatch && method === 'DELETE') {
      const [accountName, shareName] = [shareMatch[1]!, shareMatch[2]!].map(decodeURIComponent) as [
        string,
        string,
      ];
      if (!account.unmapFileShare(accountName, shareName)) throw new ControlError(404, 'No such file share.');
      return reply(204);
    }
    const poolMatch = /^pools\/([^/]+)(?:\/(fail-allocation|preempt|bad-node|start-task-failures))?$/.exec(
      path,
    );
    if (poolMatch) {
      const pool = account.pools.get(decodeURIComponent(poolMatch[1]!).toLowerCase());
      if (!pool) throw new ControlError(404, 'No such pool.');
      if (poolMatch[2] === 'fail-allocation' && method === 'POST') {
        const body = parse(failAllocationSchema, raw);
        account.failNextAllocation(
          pool,
          body.code,
          body.message ?? resizeErrorMessages[body.code] ?? 'The pool resize failed.',
        );
        return reply(204);
      }
      if (poolMatch[2] === 'start-task-failures' && method === 'POST') {
        // The start task of the pool's next `count` nodes exits 1 on every attempt.
        pool.startTaskFailures = parse(startTaskFailuresSchema, raw).count;
        return reply(200, { startTaskFailures: pool.startTaskFailures });
      }
      if (poolMatch[2] === 'bad-node' && method === 'POST') {
        const body = parse(badNodeSchema, raw);
        const node = body.nodeId
          ? pool.nodes.get(body.nodeId)
          : [...pool.nodes.values()]
              .filter((n) => !n.leaving && (n.state === 'idle' || n.state === 'running'))
              .sort((a, b) => a.allocationTime - b.allocationTime)[0];
        if (!node)
          throw new ControlError(409, body.nodeId ? `No node ${body.nodeId}.` : 'No node in service.');
        account.setNodeFault(node, body.fault);
        return reply(200, { nodeId: node.id, state: node.state, failsTasks: node.failsTasks === true });
      }
      if (poolMatch[2] === 'preempt' && method === 'POST') {
        const body = parse(preemptSchema, raw);
        const candidates = account.preemptibleNodes(pool);
        let chosen: typeof candidates;
        if (body.nodeIds) {
          chosen = body.nodeIds.map((id) => {
            const node = candidates.find((n) => n.id === id);
            if (!node) throw new ControlError(409, `Node ${id} is not a low-priority node in service.`);
            return node;
          });
        } else {
          const count = body.count ?? 1;
          if (count > candidates.length)
            throw new ControlError(
              409,
              `The pool has ${candidates.length} low-priority nodes in service; cannot preempt ${count}.`,
            );
          // The busiest nodes first, so a preemption shows on the tasks; then the oldest.
          chosen = [...candidates]
            .sort((a, b) => b.running.size - a.running.size || a.allocationTime - b.allocationTime)
            .slice(0, count);
        }
        const recover =
          body.recoverAfterSeconds === null
            ? undefined
            : (body.recoverAfterSeconds ?? account.timings.allocationSeconds);
        account.preemptNodes(chosen, recover);
        return reply(200, { preempted: chosen.map((n) => n.id) });
      }
      if (!poolMatch[2] && method === 'DELETE') {
        account.deletePool(pool);
        return reply(204);
      }
    }
    const jobMatch = /^jobs\/([^/]+)$/.exec(path);
    if (jobMatch && method === 'DELETE') {
      const job = account.jobs.get(decodeURIComponent(jobMatch[1]!).toLowerCase());
      if (!job) throw new ControlError(404, 'No such job.');
      account.removeJobNow(job);
      return reply(204);
    }
    throw new ControlError(404, `Unknown control ${method} /_emulator/${path}`);
  } catch (e) {
    if (e instanceof ControlError) return reply(e.status, { error: e.message });
    throw e;
  }
}
