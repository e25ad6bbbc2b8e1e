/**
 * A job whose URLs carry SAS tokens (resource files, output containers, the job preparation's
 * files): the signature appears in no answer of the API (create, replay, get, list, dry run,
 * refused requests), nor in the host's log lines, while the job is stored and runs as asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchClient } from '../../shared/adapters/batch/client.js';
import { emulatorClient, type SlotwiseStack, startSlotwise, waitForJobState } from '../support/stack.js';

const SECRET = 'c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWFr';
const sas = `sv=2025-01-05&se=2099-01-01T00%3A00%3A00Z&sr=c&sp=rcwl&sig=${SECRET}`;
const container = `https://acct.blob.core.windows.net/inputs?${sas}`;
const outputs = `https://acct.blob.core.windows.net/outputs?${sas}`;

let stack: SlotwiseStack;
let batch: BatchClient;

beforeAll(async () => {
  stack = await startSlotwise();
  batch = emulatorClient(stack);
});

afterAll(async () => {
  await batch?.close();
  await stack?.close();
});

const body = (id: string) => ({
  id,
  pool: { vmSize: 'standard_d2s_v3' },
  jobPreparation: {
    resourceFiles: [
      { httpUrl: `https://acct.blob.core.windows.net/inputs/ref.bin?${sas}`, filePath: 'ref.bin' },
    ],
  },
  tasks: [
    {
      id: 'a',
      commandLine: 'sleep 1',
      resourceFiles: [{ storageContainerUrl: container, blobPrefix: 'a/' }],
      outputFiles: [{ filePattern: 'out.txt', destination: { containerUrl: outputs, path: 'a/out.txt' } }],
    },
  ],
});

/** Every answer's text, to search for the signature. */
const answers: string[] = [];
async function call(path: string, init?: RequestInit): Promise<Response> {
  const res = await stack.request(path, init);
  answers.push(`${res.status} ${[...res.headers].join(' ')} ${await res.clone().text()}`);
  return res;
}

describe('SAS tokens in a job request', () => {
  it('never come back in an answer or a log line, and still reach Batch', async () => {
    const post = (b: object, query = '') =>
      call(`/jobs${query}`, { method: 'POST', body: JSON.stringify(b) });
    expect((await post(body('sas-1'))).status).toBe(202);
    expect((await post(body('sas-1'))).status).toBe(200);
    const dry = await post(body('sas-dry'), '?dryRun=true');
    expect(dry.status).toBe(200);
    // The dry run shows the preparation's files, signature redacted.
    expect(JSON.stringify(await dry.json())).toContain('sig=REDACTED');
    // Refused requests quote no URL either.
    const bad = body('sas-bad');
    bad.tasks[0]!.outputFiles[0]!.destination.containerUrl =
      `https://acct.blob.core.windows.net/Bad_Name?${sas}`;
    expect((await post(bad)).status).toBe(400);
    expect(
      (await post({ ...body('sas-bad2'), jobRelease: { commandLine: 'x', maxWallClockTime: 'PT1H' } }))
        .status,
    ).toBe(400);

    const ended = await waitForJobState(stack, 'sas-1', ['completed', 'failed'], 60_000);
    expect((await call('/jobs/sas-1')).status).toBe(200);
    expect((await call('/jobs?limit=50')).status).toBe(200);
    expect((await call(`/jobs/${ended.id}`)).status).toBe(200);

    expect(answers.length).toBeGreaterThanOrEqual(8);
    for (const answer of answers) expect(answer).not.toContain(SECRET);
    for (const line of stack.logger.lines) expect(line).not.toContain(SECRET);

    // What Slotwise sent Batch still carries the signature (Batch needs it to read and write).
    const sent = await batch.jobs.get(ended.batch!.jobId);
    expect(JSON.stringify(sent)).toContain(SECRET);
  });
});
