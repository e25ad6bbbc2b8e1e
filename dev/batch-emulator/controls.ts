/**
 * Test-only controls under `/_emulator/` (no auth, plain JSON, never faulted):
 * health, faults, clock, counters, reset, applications, quotas and out-of-band pool/job events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Account } from './account.js';
import type { SimClock } from './clock.js';
import { type FaultInjector, faultConfigSchema } from './faults.js';

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
});
const failAllocationSchema = z.object({
  code: z.string().default('AccountCoreQuotaReached'),
  message: z.string().default('The pool could not be resized because the account core quota was reached.'),
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
      if (method === 'PUT') {
        const body = parse(quotasSchema, raw);
        if (body.activeJobs !== undefined) account.quotas.activeJobs = body.activeJobs;
        if (body.pools !== undefined) account.quotas.pools = body.pools;
        return reply(200, account.quotas);
      }
      if (method === 'GET') return reply(200, account.quotas);
    }
    const poolMatch = /^pools\/([^/]+)(?:\/(fail-allocation))?$/.exec(path);
    if (poolMatch) {
      const pool = account.pools.get(decodeURIComponent(poolMatch[1]!).toLowerCase());
      if (!pool) throw new ControlError(404, 'No such pool.');
      if (poolMatch[2] && method === 'POST') {
        const body = parse(failAllocationSchema, raw);
        account.failNextAllocation(pool, body.code, body.message);
        return reply(204);
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
