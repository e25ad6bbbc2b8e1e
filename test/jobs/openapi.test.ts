import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { functionTable } from '../../functions/table.js';
import { openApiDocument } from '../../shared/interfaces/http/openapi.js';

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

describe('OpenAPI description', () => {
  const doc = openApiDocument() as {
    components: { schemas: Record<string, object> };
    paths: Record<string, object>;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(doc.components.schemas.JobRequest!);

  it("describes the job request exactly as the API validates it (the README's example passes)", () => {
    const example = {
      id: 'hello-1',
      pool: { vmSize: 'standard_d4s_v3', taskSlotsPerNode: 8, maxNodes: 4 },
      tasks: [
        { id: 'prep', commandLine: '/bin/sh -c "sleep 5"', requiredSlots: 2 },
        {
          id: 'render',
          commandLine: '/bin/sh -c "sleep 20"',
          requiredSlots: 4,
          dependsOn: { taskIds: ['prep'] },
        },
      ],
      callback: { url: 'http://127.0.0.1:7072/hooks/hello' },
    };
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...example, colour: 'blue' })).toBe(false);
    expect(validate({ ...example, tasks: [{ id: 'bad id', commandLine: 'x' }] })).toBe(false);
  });

  it('lists every route the function table serves, with its methods', () => {
    for (const fn of functionTable) {
      if (fn.kind !== 'http') continue;
      const path = doc.paths[`/${fn.route ?? fn.name}`] as Record<string, unknown> | undefined;
      expect(path, fn.name).toBeDefined();
      for (const method of fn.methods ?? ['GET', 'POST'])
        expect(path?.[method.toLowerCase()], `${method} ${fn.route}`).toBeDefined();
    }
  });
});
