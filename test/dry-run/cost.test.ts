import { describe, expect, it } from 'vitest';
import { ConfigError, readSettings } from '../../shared/adapters/config/config.js';
import { durationSeconds } from '../../shared/model/duration.js';
import { tryGetVmSize } from '../../shared/model/vm-sizes.js';
import { DEFAULT_PRICES, estimateCost, priceFor } from '../../shared/planner/cost.js';

const env = {
  COSMOS_ENDPOINT: 'https://127.0.0.1:8081',
  BATCH_ENDPOINT: 'http://127.0.0.1:7070',
  BATCH_ACCOUNT_NAME: 'a',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

describe('prices', () => {
  it('prices only VM sizes Slotwise knows, every one of them positive', () => {
    expect(Object.keys(DEFAULT_PRICES).filter((n) => tryGetVmSize(n)?.name !== n)).toEqual([]);
    expect(Object.values(DEFAULT_PRICES).every((p) => p > 0)).toBe(true);
    expect(Object.keys(DEFAULT_PRICES)).toHaveLength(53);
  });

  it('SLOTWISE_PRICES overrides and adds sizes, in any case; a bad value stops start-up naming it', () => {
    const settings = readSettings({ ...env, SLOTWISE_PRICES: '{"Standard_D2s_v3": 0.5, "custom_size": 2}' });
    expect(priceFor('standard_d2s_v3', settings.SLOTWISE_PRICES)).toEqual({
      perNodeHour: 0.5,
      source: 'setting',
    });
    expect(priceFor('CUSTOM_SIZE', settings.SLOTWISE_PRICES)?.perNodeHour).toBe(2);
    expect(priceFor('standard_d4s_v3', settings.SLOTWISE_PRICES)).toEqual({
      perNodeHour: 0.192,
      source: 'table',
    });
    expect(priceFor('unknown')).toBeUndefined();
    for (const bad of ['{', '[1]', '{"x": -1}', '{"x": "cheap"}']) {
      expect(() => readSettings({ ...env, SLOTWISE_PRICES: bad })).toThrow(ConfigError);
      expect(() => readSettings({ ...env, SLOTWISE_PRICES: bad })).toThrow(/SLOTWISE_PRICES/);
    }
    expect(readSettings(env).SLOTWISE_PRICES).toEqual({});
  });
});

describe('estimate', () => {
  it('node-hours = nodes × max(longest task, slot-hours / all slots)', () => {
    const one = (slots: number, hours: number) => ({ slots, seconds: hours * 3600 });
    // Long tail: one 5 h task dominates.
    expect(
      estimateCost({
        vmSize: 'standard_d2s_v3',
        nodes: 2,
        taskSlotsPerNode: 2,
        tasks: [one(1, 5), one(1, 1)],
      }),
    ).toMatchObject({ slotHours: 6, makespanHours: 5, nodeHours: 10, cost: 0.96 });
    // Many short tasks: the slots are the limit.
    expect(
      estimateCost({
        vmSize: 'standard_d2s_v3',
        nodes: 2,
        taskSlotsPerNode: 2,
        tasks: Array.from({ length: 8 }, () => one(1, 1)),
      }),
    ).toMatchObject({ slotHours: 8, busyNodeHours: 4, makespanHours: 2, nodeHours: 4 });
    expect(
      estimateCost({ vmSize: 'nope', nodes: 1, taskSlotsPerNode: 1, tasks: [one(1, 1)] }),
    ).not.toHaveProperty('cost');
  });

  it('reads ISO 8601 durations', () => {
    expect(durationSeconds('PT1H30M')).toBe(5400);
    expect(durationSeconds('P1DT0.5S')).toBe(86_400.5);
    expect(durationSeconds('P2W')).toBe(1_209_600);
    expect(durationSeconds('an hour')).toBeNaN();
  });
});
