/**
 * host.json and local.settings.json, read and checked the way the Functions host does at start-up:
 * a malformed file or value stops the host with an error naming the file and the key, instead of
 * failing later at the first message.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class HostConfigError extends Error {
  readonly file: string;
  readonly key: string;
  constructor(file: string, key: string, message: string) {
    super(`${file}: ${key ? `${key}: ` : ''}${message}`);
    this.name = 'HostConfigError';
    this.file = file;
    this.key = key;
  }
}

/** `hh:mm:ss`, `d.hh:mm:ss` or `hh:mm:ss.fff` → milliseconds. */
export function parseTimeSpan(text: string): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(text);
  if (!m) return undefined;
  const [, days = '0', h, min, s, frac = '0'] = m;
  return (
    ((Number(days) * 24 + Number(h)) * 60 + Number(min)) * 60_000 +
    Number(s) * 1000 +
    Math.round(Number(`0.${frac}`) * 1000)
  );
}

const timeSpan = z
  .string()
  .refine((v) => parseTimeSpan(v) !== undefined, 'must be a TimeSpan such as 00:00:30');

const hostJsonSchema = z
  .object({
    version: z.literal('2.0', { message: 'must be "2.0"' }),
    functionTimeout: z.union([timeSpan, z.literal('-1')]).optional(),
    functions: z.array(z.string()).optional(),
    extensions: z
      .object({
        http: z
          .object({
            routePrefix: z.string().optional(),
            maxOutstandingRequests: z.number().int().min(-1).optional(),
            maxConcurrentRequests: z.number().int().min(-1).optional(),
            dynamicThrottlesEnabled: z.boolean().optional(),
          })
          .strict()
          .optional(),
        queues: z
          .object({
            maxPollingInterval: timeSpan
              .refine((v) => (parseTimeSpan(v) ?? 0) >= 100, 'must be at least 100 ms')
              .optional(),
            visibilityTimeout: timeSpan.optional(),
            batchSize: z.number().int().min(1).max(32).optional(),
            newBatchThreshold: z.number().int().min(0).optional(),
            maxDequeueCount: z.number().int().min(1).optional(),
            messageEncoding: z.enum(['base64', 'none']).optional(),
          })
          .strict()
          .optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

export interface HostOptions {
  readonly routePrefix: string;
  /** HTTP throttles (-1 = unbounded, the Dedicated-plan default): executing / executing + queued requests. */
  readonly http: { readonly maxConcurrentRequests: number; readonly maxOutstandingRequests: number };
  readonly functionTimeoutMs: number | undefined;
  readonly functions: readonly string[] | undefined;
  readonly queues: {
    readonly maxPollingIntervalMs: number;
    readonly visibilityTimeoutMs: number;
    readonly batchSize: number;
    readonly newBatchThreshold: number;
    readonly maxDequeueCount: number;
    readonly messageEncoding: 'base64' | 'none';
  };
}

function issuesToError(file: string, issues: z.core.$ZodIssue[]): HostConfigError {
  const first = issues[0]!;
  const key = first.path.join('.');
  const message =
    first.code === 'unrecognized_keys' ? `unknown key(s) ${first.keys.join(', ')}` : first.message;
  return new HostConfigError(file, key, message);
}

/** Parses host.json content; `development` applies Core Tools' 2-second polling default. */
export function parseHostJson(text: string, file = 'host.json', development = true): HostOptions {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HostConfigError(file, '', `is not valid JSON (${(e as Error).message})`);
  }
  const parsed = hostJsonSchema.safeParse(raw);
  if (!parsed.success) throw issuesToError(file, parsed.error.issues);
  const q = parsed.data.extensions?.queues ?? {};
  const batchSize = q.batchSize ?? 16;
  return {
    routePrefix: (parsed.data.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    http: {
      maxConcurrentRequests: parsed.data.extensions?.http?.maxConcurrentRequests ?? -1,
      maxOutstandingRequests: parsed.data.extensions?.http?.maxOutstandingRequests ?? -1,
    },
    functionTimeoutMs:
      parsed.data.functionTimeout === undefined
        ? 30 * 60_000
        : parsed.data.functionTimeout === '-1'
          ? undefined
          : parseTimeSpan(parsed.data.functionTimeout),
    functions: parsed.data.functions,
    queues: {
      maxPollingIntervalMs: q.maxPollingInterval
        ? parseTimeSpan(q.maxPollingInterval)!
        : development
          ? 2000
          : 60_000,
      visibilityTimeoutMs: q.visibilityTimeout ? parseTimeSpan(q.visibilityTimeout)! : 0,
      batchSize,
      // (batchSize / 2) × processor count; one core on Consumption.
      newBatchThreshold: q.newBatchThreshold ?? Math.floor(batchSize / 2),
      maxDequeueCount: q.maxDequeueCount ?? 5,
      messageEncoding: q.messageEncoding ?? 'base64',
    },
  };
}

export function loadHostJson(path: string): HostOptions {
  return parseHostJson(readText(path, 'host.json'), path);
}

const localSettingsSchema = z
  .object({
    IsEncrypted: z.boolean().optional(),
    Values: z
      // `__` names are allowed, as the host allows them: they are how identity-based connections
      // (`AzureWebJobsStorage__queueServiceUri`, `__accountName`, `__credential`, `__clientId`) are given.
      .record(z.string(), z.string({ message: 'must be a string' }))
      .default({}),
    Host: z
      .object({
        LocalHttpPort: z.number().int().min(0).max(65535).optional(),
        CORS: z.string().optional(),
        CORSCredentials: z.boolean().optional(),
      })
      .passthrough()
      .optional(),
    ConnectionStrings: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

export interface LocalSettings {
  readonly values: Readonly<Record<string, string>>;
  readonly port: number;
  readonly cors: string | undefined;
}

export function parseLocalSettings(text: string, file = 'local.settings.json'): LocalSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HostConfigError(file, '', `is not valid JSON (${(e as Error).message})`);
  }
  const parsed = localSettingsSchema.safeParse(raw);
  if (!parsed.success) throw issuesToError(file, parsed.error.issues);
  if (parsed.data.IsEncrypted)
    throw new HostConfigError(file, 'IsEncrypted', 'encrypted settings are not supported locally');
  return {
    values: parsed.data.Values,
    port: parsed.data.Host?.LocalHttpPort ?? 7071,
    cors: parsed.data.Host?.CORS,
  };
}

export function loadLocalSettings(path: string): LocalSettings {
  return parseLocalSettings(readText(path, 'local.settings.json'), path);
}

/**
 * The `Values` of a local settings file for the operator scripts (`tenant:add`, `tenant:secret`): none
 * when the file is missing or unreadable, since the environment may give every setting instead.
 */
export function localSettingsValuesOrNone(path: string): Readonly<Record<string, string>> {
  try {
    return loadLocalSettings(path).values;
  } catch {
    return {};
  }
}

function readText(path: string, name: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new HostConfigError(
      path,
      '',
      `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}); ${name} is required`,
    );
  }
}

/** The app setting that lowers (or raises) the host's limit on HTTP request bodies, in bytes. */
export const REQUEST_BODY_SIZE_LIMIT_SETTING = 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT';

/** The host's limit when the setting is absent: 100 MB. */
export const DEFAULT_REQUEST_BODY_SIZE_LIMIT = 104_857_600;

/**
 * `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` as the Functions host reads it (HttpRequestBodySizeMiddleware:
 * a whole number of bytes becomes Kestrel's MaxRequestBodySize; unset or empty leaves 100 MB). Where
 * the host silently ignores a value it cannot parse, this refuses to start: a limit that looks set
 * but is not is exactly what would go unnoticed locally.
 */
export function requestBodySizeLimit(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[REQUEST_BODY_SIZE_LIMIT_SETTING]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_REQUEST_BODY_SIZE_LIMIT;
  const bytes = /^\+?\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new HostConfigError(
      'local.settings.json',
      `Values.${REQUEST_BODY_SIZE_LIMIT_SETTING}`,
      `must be a whole number of bytes (unset: ${DEFAULT_REQUEST_BODY_SIZE_LIMIT})`,
    );
  }
  return bytes;
}

/** Resolves `%Setting%` references (schedules, queue names) from app settings. */
export function resolveSetting(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  where: string,
): string {
  const m = /^%([^%]+)%$/.exec(value);
  if (!m) return value;
  const resolved = env[m[1]!];
  if (resolved === undefined || resolved === '') {
    throw new HostConfigError('local.settings.json', `Values.${m[1]}`, `is required by ${where}`);
  }
  return resolved;
}

/** A binding's storage connection, resolved the way the host resolves `connection: "X"`. */
export type StorageConnectionSetting =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | {
      readonly kind: 'identity';
      readonly queueServiceUri: string;
      readonly blobServiceUri: string;
      /** `managedidentity` or absent (then DefaultAzureCredential's chain). */
      readonly credential: string | undefined;
      readonly clientId: string | undefined;
    };

/**
 * `X` (or `AzureWebJobsX`) as a connection string wins; else `X__queueServiceUri` /
 * `X__blobServiceUri`, or `X__accountName` for the public cloud's endpoints, with `X__credential` and
 * `X__clientId` choosing the identity. Undefined when none is set.
 */
export function resolveStorageConnection(
  env: Readonly<Record<string, string | undefined>>,
  connection: string,
): StorageConnectionSetting | undefined {
  const names =
    connection === 'AzureWebJobsStorage' ? [connection] : [connection, `AzureWebJobs${connection}`];
  for (const name of names) {
    const direct = env[name];
    if (direct) return { kind: 'connectionString', connectionString: direct };
    const account = env[`${name}__accountName`];
    const queueServiceUri =
      env[`${name}__queueServiceUri`] || (account ? `https://${account}.queue.core.windows.net` : undefined);
    const blobServiceUri =
      env[`${name}__blobServiceUri`] || (account ? `https://${account}.blob.core.windows.net` : undefined);
    if (queueServiceUri || blobServiceUri) {
      return {
        kind: 'identity',
        queueServiceUri: queueServiceUri ?? '',
        blobServiceUri: blobServiceUri ?? '',
        credential: env[`${name}__credential`] || undefined,
        clientId: env[`${name}__clientId`] || undefined,
      };
    }
  }
  return undefined;
}
