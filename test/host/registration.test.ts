import { describe, expect, it } from 'vitest';
import { lazy } from '../../functions/register.js';

describe("the Azure entry point's composition root", () => {
  it('creates the dependencies once, and again only after a failure', async () => {
    let created = 0;
    let fail = true;
    const get = lazy(async () => {
      created++;
      if (fail) throw new Error('not yet');
      return created;
    });
    await expect(get()).rejects.toThrow('not yet');
    fail = false;
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
    expect(created).toBe(2);
  });
});
