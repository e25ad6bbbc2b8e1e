/**
 * Checks a value against a schema of the API's OpenAPI document (its `#/components/...` references
 * resolved), for tests that read new fields of an answer: the document's schemas are closed, so an
 * undocumented field fails here as it would in test/jobs/openapi.test.ts.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { openApiDocument } from '../../shared/interfaces/http/openapi.js';

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

let ajv: Ajv2020 | undefined;

/** undefined when `value` is valid against `#/components/schemas/<name>`, else ajv's errors as text. */
export function schemaProblems(name: string, value: unknown): string | undefined {
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
    ajv.addSchema(openApiDocument() as object, 'openapi');
  }
  const check = ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
  return check(value) ? undefined : JSON.stringify(check.errors);
}
