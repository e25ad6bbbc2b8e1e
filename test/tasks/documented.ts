/**
 * Checks a real answer of the task routes against the OpenAPI document: its status is listed for
 * the operation, its required headers are there, its media type is listed, and a JSON body validates
 * against the (closed) schema.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'vitest';
import { openApiDocument } from '../../shared/interfaces/http/openapi.js';

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

interface Answer {
  content?: Record<string, { schema?: object }>;
  headers?: Record<string, { required?: boolean }>;
}
interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, Answer> }>>;
}

const doc = openApiDocument() as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');
const at = (...segments: string[]) =>
  ajv.compile({
    $ref: `openapi#/${segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`,
  });

/** The body as text (and as JSON when it is JSON), after checking the answer against the document. */
export async function expectDocumented(
  path: string,
  res: Response,
): Promise<{ text: string; json?: unknown; bytes: Uint8Array }> {
  const answer = doc.paths[path]?.get?.responses[String(res.status)];
  expect(answer, `GET ${path} answered an undocumented ${res.status}`).toBeDefined();
  for (const [name, header] of Object.entries(answer!.headers ?? {}))
    if (header.required) expect(res.headers.get(name), `${path} ${res.status} header ${name}`).not.toBeNull();
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = Buffer.from(bytes).toString('utf8');
  const media = Object.keys(answer!.content ?? {});
  if (media.length === 0) return { text, bytes };
  const type = res.headers.get('content-type')?.split(';')[0] ?? '';
  expect(media, `GET ${path} ${res.status}`).toContain(type);
  if (!type.endsWith('json')) return { text, bytes };
  const json = JSON.parse(text) as unknown;
  const check = at('paths', path, 'get', 'responses', String(res.status), 'content', type, 'schema');
  expect(check(json), `GET ${path} ${res.status}: ${JSON.stringify(check.errors)}`).toBe(true);
  return { text, json, bytes };
}
