import type { AppDeps } from '../shared/app/app.js';
import { parseRangeHeader } from '../shared/interfaces/http/byte-range.js';
import { ifRangeMatches } from '../shared/interfaces/http/if-range.js';
import { problemResponse, problems } from '../shared/interfaces/http/problem.js';
import { fieldError } from '../shared/model/validate-request.js';
import { readJobOutput } from '../shared/usecases/job-outputs.js';
import type { HttpFunction } from './definition.js';
import { forTenantJob } from './http-auth.js';

/**
 * GET /api/jobs/{id}/outputs/{*path} — one output, streamed from the results store as a download
 * (`application/octet-stream`, `content-disposition: attachment`, nosniff: never rendered as a page
 * of this origin). `Range: bytes=a-b` (one range) answers 206 with `content-range`; a range past the
 * end 416; a `Range` the API cannot honour 400, as for task files. 404 for another tenant's job or a
 * file that is not there.
 */
export const jobsOutputsGet: HttpFunction<AppDeps> = {
  kind: 'http',
  name: 'jobsOutputsGet',
  methods: ['GET'],
  route: 'jobs/{id}/outputs/{*path}',
  handler: forTenantJob(async (request, _context, deps, tenant, id) => {
    const path = request.params.path ?? '';
    const spec = parseRangeHeader(request.headers.get('range'));
    if (spec && 'error' in spec) return problems.badQuery([fieldError(['Range'], spec.error)]);
    const range = !spec ? undefined : spec.kind === 'suffix' ? { suffix: spec.length } : spec;
    let result = await readJobOutput(tenant, id, path, range, deps);
    // If-Range names another version: the whole current file, not a piece of it.
    if (range && result.kind === 'blob' && !ifRangeMatches(request.headers.get('if-range'), result.blob)) {
      await result.blob.stream.cancel();
      result = await readJobOutput(tenant, id, path, undefined, deps);
    }
    switch (result.kind) {
      case 'invalid':
        return problems.badQuery(result.errors);
      case 'jobNotFound':
        return problems.notFound(`Job '${id}'`);
      case 'notFound':
        return problems.notFound(`Output '${path.slice(0, 200)}' of job '${id}'`);
      case 'unsatisfiable':
        return problemResponse(
          {
            type: 'https://slotwise.dev/problems/range-not-satisfiable',
            title: 'Range not satisfiable',
            status: 416,
            detail: `The range starts past the end of the ${result.size}-byte file.`,
          },
          { 'content-range': `bytes */${result.size}` },
        );
      case 'blob': {
        const { blob } = result;
        return {
          status: blob.contentRange ? 206 : 200,
          headers: {
            'content-type': 'application/octet-stream',
            'content-disposition': contentDisposition(result.name),
            'x-content-type-options': 'nosniff',
            'content-length': String(blob.contentLength),
            'accept-ranges': 'bytes',
            'last-modified': blob.lastModified.toUTCString(),
            'cache-control': 'private, no-store',
            ...(blob.etag ? { etag: blob.etag } : {}),
            ...(blob.contentRange ? { 'content-range': blob.contentRange } : {}),
          },
          body: blob.stream,
        };
      }
    }
  }),
};

/**
 * `attachment` with the file's name: a plain ASCII `filename` (quotes, backslashes and anything
 * outside printable ASCII replaced by `_`) and, when that lost something, the exact name as
 * `filename*` (RFC 6266 §4.3, RFC 8187).
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (ascii === name) return `attachment; filename="${name}"`;
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}
