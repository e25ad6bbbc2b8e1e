import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  deferDelaySeconds,
  MAX_DEFER_SECONDS,
  parseIntakeEnvelope,
} from '../../shared/usecases/intake-message.js';
import {
  IntakeProofError,
  intakeSignedContent,
  jobIdFromProof,
  signIntakeMessage,
  verifyIntakeProof,
} from '../../shared/usecases/intake-proof.js';

const secret = `whsec_${Buffer.from('an-intake-secret-of-32-bytes-len').toString('base64')}`;
const otherSecret = `whsec_${Buffer.from('another-tenants-intake-secret-32').toString('base64')}`;
const job = { tasks: [{ commandLine: 'echo', id: 't' }], pool: { vmSize: 'standard_d2s_v3' } };
const signedAt = 1_767_225_600; // 2026-01-01T00:00:00Z
const insertedAt = new Date(signedAt * 1000 + 2_000);

function failure(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(IntakeProofError);
    return (e as IntakeProofError).code;
  }
}

describe('intake proof', () => {
  const proof = signIntakeMessage({ secret, id: 'msg-1', timestamp: signedAt, tenant: 'acme', job });
  const verify = (overrides: Partial<Parameters<typeof verifyIntakeProof>[0]> = {}) =>
    failure(() => verifyIntakeProof({ proof, tenant: 'acme', job, secret, insertedAt, ...overrides }));

  it('signs id.timestamp.tenant.canonical JSON, as docs/security.md shows for other languages', () => {
    const content = `msg-1.${signedAt}.acme.{"pool":{"vmSize":"standard_d2s_v3"},"tasks":[{"commandLine":"echo","id":"t"}]}`;
    expect(intakeSignedContent(proof, 'acme', job)).toBe(content);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    expect(proof.signature).toBe(`v1,${createHmac('sha256', key).update(content).digest('base64')}`);
    // Key order does not matter: the receiver canonicalises what it parsed.
    const reordered = { pool: job.pool, tasks: [{ id: 't', commandLine: 'echo' }] };
    expect(verify({ job: reordered })).toBeUndefined();
  });

  it('accepts its own proof, and one of several signatures (secret rotation)', () => {
    expect(verify()).toBeUndefined();
    const rotated = { ...proof, signature: `v1,${Buffer.alloc(32).toString('base64')} ${proof.signature}` };
    expect(verify({ proof: rotated })).toBeUndefined();
  });

  it('refuses a forged, altered, re-addressed or stale proof', () => {
    // Signed with another tenant's key (or a guessed one).
    const forged = signIntakeMessage({
      secret: otherSecret,
      id: 'msg-1',
      timestamp: signedAt,
      tenant: 'acme',
      job,
    });
    expect(verify({ proof: forged })).toBe('IntakeProofBadSignature');
    // Another tenant signs with its own key but claims acme: verified with acme's key, it fails.
    const claimed = signIntakeMessage({
      secret: otherSecret,
      id: 'm',
      timestamp: signedAt,
      tenant: 'acme',
      job,
    });
    expect(verify({ proof: claimed })).toBe('IntakeProofBadSignature');
    // acme's proof presented for another tenant (with that tenant's key).
    expect(verify({ tenant: 'acme-prod', secret: otherSecret })).toBe('IntakeProofBadSignature');
    // The body changed after signing.
    expect(verify({ job: { ...job, pool: { vmSize: 'standard_d64s_v3' } } })).toBe('IntakeProofBadSignature');
    // A different timestamp or id than was signed.
    expect(verify({ proof: { ...proof, timestamp: signedAt + 1 } })).toBe('IntakeProofBadSignature');
    expect(verify({ proof: { ...proof, id: 'msg-2' } })).toBe('IntakeProofBadSignature');
    expect(verify({ proof: { ...proof, signature: 'v2,abc' } })).toBe('IntakeProofBadSignature');
    // Inserted more than five minutes after (or before) signing.
    expect(verify({ insertedAt: new Date((signedAt + 301) * 1000) })).toBe('IntakeProofStale');
    expect(verify({ insertedAt: new Date((signedAt - 301) * 1000) })).toBe('IntakeProofStale');
    expect(verify({ insertedAt: new Date((signedAt + 300) * 1000) })).toBeUndefined();
    // A tenant without a usable intake secret cannot be proven at all.
    expect(verify({ secret: undefined })).toBe('IntakeProofNoSecret');
    expect(verify({ secret: 'not-a-secret' })).toBe('IntakeProofNoSecret');
  });

  it('derives one job id per tenant and proof id', () => {
    expect(jobIdFromProof('acme', 'msg-1')).toMatch(/^q-[0-9a-f]{32}$/);
    expect(jobIdFromProof('acme', 'msg-1')).toBe(jobIdFromProof('acme', 'msg-1'));
    expect(jobIdFromProof('acme', 'msg-1')).not.toBe(jobIdFromProof('acme', 'msg-2'));
    expect(jobIdFromProof('acme', 'msg-1')).not.toBe(jobIdFromProof('acme-prod', 'msg-1'));
  });

  it('reads the envelope with an optional proof and a job that must be an object', () => {
    expect(parseIntakeEnvelope({ tenant: 'acme', job, proof })).toMatchObject({ ok: true });
    expect(parseIntakeEnvelope({ tenant: 'acme', job })).toMatchObject({ ok: true });
    expect(parseIntakeEnvelope({ tenant: 'acme', job: 'text', proof })).toMatchObject({ ok: false });
    expect(parseIntakeEnvelope({ tenant: 'acme', job, proof: { ...proof, timestamp: 'now' } })).toMatchObject(
      {
        ok: false,
      },
    );
    expect(parseIntakeEnvelope({ tenant: 'acme', job, proof, extra: 1 })).toMatchObject({ ok: false });
  });
});

describe('deferred intake delay', () => {
  it('waits at least Retry-After, doubles with each wait, caps, and jitters', () => {
    expect(deferDelaySeconds(1, 1, () => 0)).toBe(1);
    expect(deferDelaySeconds(1, 1, () => 1)).toBe(2);
    expect(deferDelaySeconds(30, 1, () => 0.5)).toBe(30);
    expect(deferDelaySeconds(30, 2, () => 0.5)).toBe(60);
    expect(deferDelaySeconds(30, 3, () => 0.5)).toBe(120);
    expect(deferDelaySeconds(30, 50, () => 0.5)).toBe(MAX_DEFER_SECONDS);
    expect(deferDelaySeconds(30, 50, () => 0)).toBe(Math.ceil(MAX_DEFER_SECONDS * 0.75));
    expect(deferDelaySeconds(30, 50, () => 1)).toBe(Math.ceil(MAX_DEFER_SECONDS * 1.25));
    // A Retry-After beyond the cap is still honoured.
    expect(deferDelaySeconds(3600, 1, () => 0)).toBe(3600);
  });
});
