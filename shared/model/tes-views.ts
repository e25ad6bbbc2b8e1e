/**
 * A stored TES task as the API shows it, in the spec's three views (ga4gh/task-execution-schemas
 * @ v1.1, `components.parameters.view`):
 * - MINIMAL (the default): `id` and `state` only;
 * - BASIC: every field except `tesExecutorLog.stdout`, `tesExecutorLog.stderr`, `tesInput.content`
 *   and `tesTaskLog.system_logs`;
 * - FULL: every field.
 *
 * Only spec field names ever appear: py-tes builds its models with `Cls(**json)` and fails on any
 * other key (ohsu-comp-bio/py-tes `tes/utils.py` `unmarshal`). Each object is therefore built field
 * by field from the stored document, never spread. Absent optional values are omitted, never null;
 * `size_bytes` stays a string (int64 as the spec codes it); every URL has its SAS redacted, and so
 * has any text Slotwise or the task wrote (system logs, metadata, log tails).
 *
 * Why a task waits is told in spec fields too: a `system_logs` line (FULL) and the metadata key
 * `slotwise_wait_code` (BASIC and FULL), on the last task log, or on one synthetic task log while
 * no attempt has started (TES on Azure puts its own notes in `tesTaskLog.metadata` the same way).
 */
import { redactSas } from '../core/redact-sas.js';
import { SUPPORTED_BACKEND_PARAMETERS } from './tes-schema.js';
import type {
  TesExecutor,
  TesExecutorLog,
  TesInput,
  TesOutput,
  TesOutputFileLog,
  TesResources,
  TesState,
  TesTaskDoc,
  TesTaskLog,
} from './tes-task.js';
import { redactUrlSas } from './tes-urls.js';

export const TES_VIEWS = ['MINIMAL', 'BASIC', 'FULL'] as const;
export type TesView = (typeof TES_VIEWS)[number];

/** The metadata key naming why a task waits (a Slotwise wait code). */
export const TES_WAIT_CODE_KEY = 'slotwise_wait_code';

/**
 * The `view` query parameter: absent or empty → MINIMAL (the spec's default); the three names in
 * any case; anything else → undefined, for the caller to answer 400.
 */
export function parseTesView(value: string | null): TesView | undefined {
  if (value === null || value === '') return 'MINIMAL';
  const upper = value.toUpperCase();
  return (TES_VIEWS as readonly string[]).includes(upper) ? (upper as TesView) : undefined;
}

export interface TesWaiting {
  readonly code: string;
  readonly message: string;
  /** RFC 3339. */
  readonly since: string;
}

/** States in which a task can be waiting for something (the wait note is shown only then). */
const WAITING_STATES: ReadonlySet<TesState> = new Set(['QUEUED', 'INITIALIZING', 'RUNNING']);

export function tesTaskView(
  doc: TesTaskDoc,
  view: TesView,
  extra?: { waiting?: TesWaiting },
): Record<string, unknown> {
  if (view === 'MINIMAL') return { id: doc.id, state: doc.state };
  const full = view === 'FULL';
  const r = doc.request;
  return {
    id: doc.id,
    state: doc.state,
    ...(r.name !== undefined && { name: r.name }),
    ...(r.description !== undefined && { description: r.description }),
    inputs: r.inputs.map((input) => inputView(input, full)),
    outputs: r.outputs.map(outputView),
    ...(r.resources !== undefined && { resources: resourcesView(r.resources) }),
    executors: r.executors.map(executorView),
    volumes: [...r.volumes],
    tags: { ...r.tags },
    logs: taskLogsView(doc, full, extra?.waiting),
    creation_time: doc.creationTime,
  };
}

function inputView(input: TesInput, full: boolean): Record<string, unknown> {
  return {
    ...(input.name !== undefined && { name: input.name }),
    ...(input.description !== undefined && { description: input.description }),
    ...(input.url !== undefined && { url: redactUrlSas(input.url) }),
    path: input.path,
    type: input.type,
    ...(full && input.content !== undefined && { content: input.content }),
    ...(input.streamable !== undefined && { streamable: input.streamable }),
  };
}

function outputView(output: TesOutput): Record<string, unknown> {
  return {
    ...(output.name !== undefined && { name: output.name }),
    ...(output.description !== undefined && { description: output.description }),
    url: redactUrlSas(output.url),
    path: output.path,
    ...(output.path_prefix !== undefined && { path_prefix: output.path_prefix }),
    type: output.type,
  };
}

function resourcesView(res: TesResources): Record<string, unknown> {
  return {
    ...(res.cpu_cores !== undefined && { cpu_cores: res.cpu_cores }),
    ...(res.preemptible !== undefined && { preemptible: res.preemptible }),
    ...(res.ram_gb !== undefined && { ram_gb: res.ram_gb }),
    ...(res.disk_gb !== undefined && { disk_gb: res.disk_gb }),
    ...(res.zones !== undefined && { zones: [...res.zones] }),
    ...(res.backend_parameters !== undefined && {
      backend_parameters: supportedOnly(res.backend_parameters),
    }),
    ...(res.backend_parameters_strict !== undefined && {
      backend_parameters_strict: res.backend_parameters_strict,
    }),
  };
}

/** The spec: unsupported keys are never returned (the schema never stores them; this holds it). */
function supportedOnly(params: Readonly<Record<string, string>>): Record<string, string> {
  const supported: ReadonlySet<string> = new Set(SUPPORTED_BACKEND_PARAMETERS);
  return Object.fromEntries(Object.entries(params).filter(([key]) => supported.has(key)));
}

function executorView(e: TesExecutor): Record<string, unknown> {
  return {
    image: e.image,
    command: [...e.command],
    ...(e.workdir !== undefined && { workdir: e.workdir }),
    ...(e.stdin !== undefined && { stdin: e.stdin }),
    ...(e.stdout !== undefined && { stdout: e.stdout }),
    ...(e.stderr !== undefined && { stderr: e.stderr }),
    ...(e.env !== undefined && { env: { ...e.env } }),
    ...(e.ignore_error !== undefined && { ignore_error: e.ignore_error }),
  };
}

function executorLogView(log: TesExecutorLog, full: boolean): Record<string, unknown> {
  return {
    ...(log.start_time !== undefined && { start_time: log.start_time }),
    ...(log.end_time !== undefined && { end_time: log.end_time }),
    ...(full && log.stdout !== undefined && { stdout: redactSas(log.stdout) }),
    ...(full && log.stderr !== undefined && { stderr: redactSas(log.stderr) }),
    exit_code: log.exit_code,
  };
}

function outputFileLogView(o: TesOutputFileLog): Record<string, unknown> {
  return { url: redactUrlSas(o.url), path: o.path, size_bytes: String(o.size_bytes) };
}

/**
 * The task logs. The task-wide lines (`doc.systemLogs`) and the wait note go on the last log; with
 * no log yet, on one synthetic log (`logs` and `outputs` are required there: spec and py-tes).
 */
function taskLogsView(
  doc: TesTaskDoc,
  full: boolean,
  waiting: TesWaiting | undefined,
): Record<string, unknown>[] {
  const wait = waiting && WAITING_STATES.has(doc.state) ? waiting : undefined;
  const extraLines = [
    ...doc.systemLogs,
    ...(wait ? [`waiting since ${wait.since}: ${wait.code}: ${wait.message}`] : []),
  ];
  const extraMetadata: Record<string, string> = wait ? { [TES_WAIT_CODE_KEY]: wait.code } : {};
  const logs: TesTaskLog[] = [...doc.logs];
  const last = logs.pop();
  const tail: TesTaskLog | undefined =
    last ?? ((full && extraLines.length > 0) || wait !== undefined ? { logs: [], outputs: [] } : undefined);
  if (tail === undefined) return [];
  const shown = logs.map((log) => taskLogView(log, full, [], {}));
  shown.push(taskLogView(tail, full, extraLines, extraMetadata));
  return shown;
}

function taskLogView(
  log: TesTaskLog,
  full: boolean,
  extraLines: readonly string[],
  extraMetadata: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const metadata = { ...log.metadata, ...extraMetadata };
  const systemLogs = [...(log.system_logs ?? []), ...extraLines];
  return {
    logs: log.logs.map((l) => executorLogView(l, full)),
    ...(Object.keys(metadata).length > 0 && {
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, redactSas(v)])),
    }),
    ...(log.start_time !== undefined && { start_time: log.start_time }),
    ...(log.end_time !== undefined && { end_time: log.end_time }),
    outputs: log.outputs.map(outputFileLogView),
    ...(full && systemLogs.length > 0 && { system_logs: systemLogs.map(redactSas) }),
  };
}

export interface TesServiceInfoOptions {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly organization: { readonly name: string; readonly url: string };
  readonly documentationUrl?: string;
  /** Storage locations the service supports (the spec: "some, but not necessarily all"). */
  readonly storage: readonly string[];
  readonly createdAt?: string;
  readonly updatedAt?: string;
  readonly environment?: string;
}

/**
 * `GET /service-info`: GA4GH service-info 1.0.0's `Service` plus TES's `storage` and
 * `tesResources_backend_parameters` (spec `tesServiceInfo`), with `type.artifact` `tes`.
 */
export function tesServiceInfo(options: TesServiceInfoOptions): Record<string, unknown> {
  return {
    id: options.id,
    name: options.name,
    type: { group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' },
    organization: { name: options.organization.name, url: options.organization.url },
    ...(options.documentationUrl !== undefined && { documentationUrl: options.documentationUrl }),
    ...(options.createdAt !== undefined && { createdAt: options.createdAt }),
    ...(options.updatedAt !== undefined && { updatedAt: options.updatedAt }),
    ...(options.environment !== undefined && { environment: options.environment }),
    version: options.version,
    storage: [...options.storage],
    tesResources_backend_parameters: [...SUPPORTED_BACKEND_PARAMETERS],
  };
}
