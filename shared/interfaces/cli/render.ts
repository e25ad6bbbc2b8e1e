/**
 * Plain-text renderings of jobs, pages and plans for `slotwise` (what it prints without `--json`).
 * Pure functions returning lines, so tests compare them and the commands only print.
 */
import { renderPackingText, tryPackingPicture } from '../ui/packing-picture.js';
import type { CliDryRun, CliJob, CliJobPage, CliPlan } from './api-client.js';

const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

export function countsLine(job: Pick<CliJob, 'taskCounts'>): string {
  const c = job.taskCounts;
  return `active ${c.active} · running ${c.running} · succeeded ${c.succeeded} · failed ${c.failed}`;
}

/** Tasks known so far: the plan's count, else the request's, else what Batch has counted. */
export function totalTasks(job: Pick<CliJob, 'tasks' | 'taskCounts'>): number {
  const c = job.taskCounts;
  return Math.max(job.tasks ?? 0, c.active + c.running + c.succeeded + c.failed);
}

export function planLine(plan: CliPlan): string {
  const parts = [
    `${plural(plan.nodes, 'node')} (lower bound ${plan.lowerBound})`,
    `${plan.taskSlotsPerNode} slots per node${plan.vmSize ? ` of ${plan.vmSize}` : ''}`,
  ];
  if (plan.totalSlots !== undefined)
    parts.push(`${plan.totalSlots} of ${plan.nodes * plan.taskSlotsPerNode} slots used`);
  if (plan.poolNodes !== undefined) parts.push(`pool ${plural(plan.poolNodes, 'node')}`);
  if (plan.waves !== undefined && plan.waves > 1) parts.push(`${plan.waves} waves`);
  return parts.join(', ');
}

export function renderJob(job: CliJob): string[] {
  const lines = [
    `job        ${job.id}${job.displayName ? ` (${job.displayName})` : ''}`,
    `state      ${job.state}`,
  ];
  lines.push(`created    ${job.createdAt}${job.endedAt ? `, ended ${job.endedAt}` : ''}`);
  lines.push(`tasks      ${totalTasks(job)}: ${countsLine(job)}`);
  if (job.pool || job.batch) {
    const asked = job.pool ? ('id' in job.pool ? `existing pool ${job.pool.id}` : job.pool.vmSize) : '';
    const batch = job.batch ? `Batch pool ${job.batch.poolId}, job ${job.batch.jobId}` : '';
    lines.push(`pool       ${[asked, batch].filter(Boolean).join(' → ')}`);
  }
  if (job.plan) lines.push(`plan       ${planLine(job.plan)}`);
  if (job.waiting) {
    lines.push(`waiting    ${job.waiting.code}: ${job.waiting.message}`);
    lines.push(
      job.waiting.failAt
        ? `           since ${job.waiting.since}; the job fails at ${job.waiting.failAt} unless nodes come`
        : `           since ${job.waiting.since}; tried again until there is room (it does not fail for this)`,
    );
  }
  if (job.failure) {
    lines.push(`failure    ${job.failure.code}: ${job.failure.message}`);
    for (const t of (job.failure.failedTasks ?? []).slice(0, 10)) {
      lines.push(`           task ${t.taskId}${t.exitCode !== undefined ? ` exited ${t.exitCode}` : ''}`);
    }
  }
  if (job.errors && job.errors.length > 0) {
    lines.push('errors');
    for (const e of job.errors) lines.push(`  ${e.field ? `${e.field}: ` : ''}${e.message}`);
  }
  if (job.retry) lines.push(`retry      ${job.retry.status} (attempt ${job.retry.attempt})`);
  if (job.deliveries.length > 0) {
    lines.push('deliveries');
    for (const d of job.deliveries) {
      const last = d.lastStatus !== undefined ? ` last ${d.lastStatus}` : '';
      const error = d.lastError ? ` (${d.lastError})` : '';
      lines.push(
        `  ${d.type.padEnd(26)} ${d.status.padEnd(9)} ${plural(d.attempts, 'attempt')}${last}${error}`,
      );
    }
  }
  if (job.plan) lines.push(...renderPicture(job.plan));
  return lines;
}

export function renderPicture(plan: CliPlan): string[] {
  const picture = tryPackingPicture(plan);
  if (!picture) return [];
  return [
    'packing    (each row a kind of node: × how many, then its slots; █▒ tasks, · free)',
    ...renderPackingText(picture).map((l) => `  ${l}`),
  ];
}

export function renderPage(page: CliJobPage): string[] {
  if (page.value.length === 0) return ['no jobs'];
  const rows = page.value.map((job) => {
    const total = totalTasks(job);
    const done = job.taskCounts.succeeded + job.taskCounts.failed;
    return [
      job.id,
      job.state,
      `${done}/${total}`,
      job.taskCounts.failed > 0 ? `${job.taskCounts.failed} failed` : '',
      job.createdAt,
    ];
  });
  const head = ['ID', 'STATE', 'DONE', 'FAILED', 'CREATED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

export function renderDryRun(answer: CliDryRun): string[] {
  const { plan } = answer;
  const lines = [`plan       ${planLine(plan)}`];
  if (plan.tasks !== undefined) lines.push(`tasks      ${plan.tasks}`);
  if (plan.applicationPackages) {
    const { placement, reason } = plan.applicationPackages;
    lines.push(`packages   ${placement === 'none' ? 'none' : `on the ${placement}`}: ${reason}`);
  }
  if (plan.containerImages && plan.containerImages.length > 0) {
    lines.push(`images     ${plan.containerImages.join(', ')}`);
  }
  if (plan.sharedData) {
    const d = plan.sharedData;
    lines.push(
      `shared     ${plural(d.resourceFiles, 'resource file')} copied once per node: ${plural(d.preparationCopies, 'copy', 'copies')}, not ${d.perTaskCopies} (one per task)`,
    );
  }
  if (answer.estimate) {
    lines.push('estimate');
    // Fields the plan line already shows (vmSize, nodes, …) are left out when they agree.
    const planFields = plan as Record<string, unknown>;
    const fresh = Object.fromEntries(
      Object.entries(answer.estimate).filter(([key, value]) => planFields[key] !== value),
    );
    for (const [key, value] of flatten(fresh)) lines.push(`  ${key.padEnd(24)} ${value}`);
  }
  lines.push(...renderPicture(plan));
  return lines;
}

/** Nested estimate fields as `a.b` → value, scalars only (the estimate's shape is the server's to grow). */
function flatten(value: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      out.push(...flatten(v as Record<string, unknown>, name));
    else if (v !== undefined) out.push([name, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  return out;
}
