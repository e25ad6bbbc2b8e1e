/**
 * The dashboard's calls to the JSON API: the key goes only in the `Authorization` header, a refused
 * key is an `Unauthorized` the page answers by asking for the key again, and other errors carry the
 * problem's title and detail.
 */

export class Unauthorized extends Error {}

/** A request to the API below its base (`/jobs/…`), with the tab's key; 401 throws `Unauthorized`. */
export type ApiCall = (path: string, headers?: Record<string, string>) => Promise<Response>;

export function makeApiCall(apiBase: string, key: () => string | null): ApiCall {
  return async (path, headers = {}) => {
    const response = await fetch(`${apiBase}${path}`, {
      headers: { authorization: `Bearer ${key() ?? ''}`, accept: 'application/json', ...headers },
      cache: 'no-store',
    });
    if (response.status === 401) throw new Unauthorized('key refused');
    return response;
  };
}

export async function problemError(response: Response): Promise<Error> {
  const problem = (await response.json().catch(() => ({}))) as { title?: string; detail?: string };
  return new Error(`${response.status} ${problem.title ?? ''} ${problem.detail ?? ''}`.trim());
}

export async function getJson<T>(call: ApiCall, path: string): Promise<T> {
  const response = await call(path);
  if (!response.ok) throw await problemError(response);
  return (await response.json()) as T;
}

/**
 * A `nextLink` as a path below the API base, or undefined for anything else: the request carries
 * the key, so a link to another origin or outside the API is not followed.
 */
export function belowApi(apiBase: string, link: string): string | undefined {
  if (!link.startsWith(`${apiBase}/jobs/`) || link.startsWith('//')) return undefined;
  return link.slice(apiBase.length);
}

export interface Page<T> {
  readonly value: readonly T[];
  readonly nextLink?: string;
}

/** A task as `GET /api/jobs/{id}/tasks` lists it. */
export interface TaskItem {
  readonly id: string;
  readonly state: 'active' | 'preparing' | 'running' | 'completed';
  readonly result?: 'success' | 'failure';
  readonly exitCode?: number;
  readonly failure?: { readonly category?: string; readonly code?: string; readonly message?: string };
  readonly retryCount?: number;
  readonly requeueCount?: number;
  readonly nodeId?: string;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly requiredSlots?: number;
}

/** An output as `GET /api/jobs/{id}/outputs` lists it. */
export interface OutputItem {
  readonly task?: string;
  readonly path: string;
  readonly size: number;
  readonly lastModified?: string;
}

export const jobPath = (job: string) => `/jobs/${encodeURIComponent(job)}`;

/** A path of segments, each encoded, the slashes kept. */
export const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');
