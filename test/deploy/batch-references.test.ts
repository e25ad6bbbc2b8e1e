/**
 * Batch correctness for real accounts: pool-level application package references are full ARM ids
 * (task level keeps the name), container pools default to a container-capable image, and the
 * emulator refuses what Batch refuses. `GET /supportedimages` lists the images with capabilities.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchEmulator } from '../../dev/batch-emulator/index.js';
import { jobRequestSchema } from '../../shared/model/request-schema.js';

const parseJobRequest = (raw: unknown) => jobRequestSchema.parse(raw);

import { batchAccountResourceId, DEFAULT_CONTAINER_IMAGE, planJob } from '../../shared/planner/plan-job.js';
import { call, control, poolBody, start, vmConfig } from '../batch-emulator/helpers.js';

let emulator: BatchEmulator;
beforeAll(async () => {
  emulator = await start();
  await control(emulator, 'PUT', 'applications', {
    applications: [{ id: 'ffmpeg', versions: ['6.1'], defaultVersion: '6.1' }],
  });
});
afterAll(() => emulator?.close());

const account = batchAccountResourceId('1111', 'rg-slotwise', 'emuacct');
const hpc = { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' };

describe('application package references', () => {
  it('the emulator refuses a short name on a pool and takes the full ARM id', async () => {
    const short = await call(
      emulator,
      'POST',
      '/pools',
      poolBody('short', {
        applicationPackageReferences: [{ applicationId: 'ffmpeg' }],
      }),
    );
    expect(short.status).toBe(409);
    expect(short.json).toMatchObject({ code: 'InvalidApplicationPackageReferences' });
    const full = await call(
      emulator,
      'POST',
      '/pools',
      poolBody('full', {
        applicationPackageReferences: [{ applicationId: `${account}/applications/ffmpeg` }],
      }),
    );
    expect(full.status).toBe(201);
  });

  it('the planner puts the ARM id on the pool and the name on tasks', () => {
    const defaults = {
      image: {
        publisher: 'canonical',
        offer: '0001-com-ubuntu-server-jammy',
        sku: '22_04-lts',
        version: 'latest',
      },
      nodeAgentSkuId: 'batch.node.ubuntu 22.04',
      batchAccountResourceId: account,
    };
    const request = (tasks: number) =>
      parseJobRequest({
        pool: { vmSize: 'standard_d2s_v3' },
        applicationPackages: [{ applicationId: 'ffmpeg', version: '6.1' }],
        tasks: Array.from({ length: tasks }, (_, i) => ({
          id: `t${i}`,
          commandLine: 'sleep 1',
          requiredSlots: 2,
          applicationPackages: [{ applicationId: 'x264' }],
        })),
      });
    const outcome = planJob({ tenant: 'a', jobId: 'j', request: request(2), defaults });
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors));
    expect(outcome.plan.pool?.applicationPackageReferences).toEqual([
      { applicationId: `${account}/applications/ffmpeg`, version: '6.1' },
    ]);
    const [chunk] = [...outcome.plan.chunks()];
    expect(chunk?.[0]?.applicationPackageReferences).toEqual([{ applicationId: 'x264' }]);
  });
});

describe('container images', () => {
  it('the emulator refuses containers on an image without DockerCompatible, with the error Batch returns', async () => {
    const plain = await call(
      emulator,
      'POST',
      '/pools',
      poolBody('plain-ctr', {
        virtualMachineConfiguration: { ...vmConfig, containerConfiguration: { type: 'dockerCompatible' } },
      }),
    );
    expect(plain.status).toBe(400);
    expect(plain.json).toMatchObject({ code: 'InvalidPropertyValue' });
    const capable = await call(
      emulator,
      'POST',
      '/pools',
      poolBody('hpc-ctr', {
        virtualMachineConfiguration: {
          ...vmConfig,
          imageReference: hpc,
          containerConfiguration: { type: 'dockerCompatible' },
        },
      }),
    );
    expect(capable.status).toBe(201);
  });

  it('serves GET /supportedimages with capabilities, listing the planner default as DockerCompatible', async () => {
    const res = await call(emulator, 'GET', '/supportedimages');
    expect(res.status).toBe(200);
    const images = (res.json as { value: { imageReference: typeof hpc; capabilities?: string[] }[] }).value;
    const entry = images.find((i) => i.imageReference.offer === DEFAULT_CONTAINER_IMAGE.image.offer);
    expect(entry?.capabilities).toContain('DockerCompatible');
  });

  it('a container pool gets the container-capable image by default, and a pool can choose its own', () => {
    const defaults = {
      image: {
        publisher: 'canonical',
        offer: '0001-com-ubuntu-server-jammy',
        sku: '22_04-lts',
        version: 'latest',
      },
      nodeAgentSkuId: 'batch.node.ubuntu 22.04',
      batchAccountResourceId: account,
    };
    const plan = (pool: Record<string, unknown>) => {
      const outcome = planJob({
        tenant: 'a',
        jobId: 'j',
        request: parseJobRequest({
          pool: { vmSize: 'standard_d2s_v3', ...pool },
          tasks: [{ id: 'a', commandLine: 'run', container: { image: 'busybox:1.36' } }],
        }),
        defaults,
      });
      if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors));
      return outcome.plan.pool?.virtualMachineConfiguration;
    };
    expect(plan({})?.imageReference).toEqual(DEFAULT_CONTAINER_IMAGE.image);
    const own = {
      publisher: 'microsoftwindowsserver',
      offer: 'windowsserver',
      sku: '2022-datacenter-core-smalldisk-with-containers',
      version: 'latest',
    };
    expect(plan({ image: own, nodeAgentSkuId: 'batch.node.windows amd64' })).toMatchObject({
      imageReference: own,
      nodeAgentSKUId: 'batch.node.windows amd64',
    });
  });
});
