/** Which exporter the settings choose, the Entra form of Application Insights, and the converters. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { operationPath } from '../../shared/adapters/batch/client.js';
import {
  entraClientId,
  readTelemetrySettings,
  telemetryMode,
} from '../../shared/adapters/telemetry/start.js';
import {
  TRACEPARENT_METADATA,
  takeTraceparent,
  withTraceMetadata,
} from '../../shared/adapters/telemetry/trace-context.js';

const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('telemetry settings', () => {
  it('chooses Azure Monitor, then OTLP, then the console, else nothing', () => {
    const mode = (env: Record<string, string>) => telemetryMode(readTelemetrySettings(env));
    const ai = { APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x;IngestionEndpoint=https://e/' };
    const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
    expect(mode({ ...ai, ...otlp, SLOTWISE_TELEMETRY: 'console' })).toBe('azureMonitor');
    expect(mode({ ...otlp, SLOTWISE_TELEMETRY: 'console' })).toBe('otlp');
    expect(mode({ SLOTWISE_TELEMETRY: 'console' })).toBe('console');
    expect(mode({})).toBe('none');
    expect(mode({ ...ai, SLOTWISE_TELEMETRY: 'off' })).toBe('none');
    expect(() => readTelemetrySettings({ SLOTWISE_TELEMETRY: 'loud' })).toThrow(/SLOTWISE_TELEMETRY/);
  });

  it('reads the managed identity from the authentication string the Functions host reads', () => {
    expect(entraClientId('ClientId=abc-123;Authorization=AAD')).toBe('abc-123');
    expect(entraClientId('Authorization=AAD')).toBeUndefined();
    expect(entraClientId(undefined)).toBeNull();
    expect(entraClientId('Authorization=Key')).toBeNull();
  });

  it('the deployment template gives the app its Application Insights connection and Entra sign-in', () => {
    const api = readFileSync(new URL('../../infra/app/api.bicep', import.meta.url), 'utf8');
    const block = api.slice(api.indexOf('// settings:begin'), api.indexOf('// settings:end'));
    expect(block).toMatch(/^\s+APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString$/m);
    const auth = /APPLICATIONINSIGHTS_AUTHENTICATION_STRING: '([^']*)'/.exec(block)?.[1];
    expect(entraClientId(auth?.replace(/\$\{identityClientId\}/, 'id'))).toBe('id');
  });
});

describe('trace context converters', () => {
  it('names Batch operations without ids', () => {
    expect(operationPath('/jobs')).toBe('/jobs');
    expect(operationPath('/jobs/t_j1/addtaskcollection')).toBe('/jobs/{id}/addtaskcollection');
    expect(operationPath('/jobs/t_j1/tasks/a/terminate')).toBe('/jobs/{id}/tasks/{id}/terminate');
    expect(operationPath('/pools/p1/resize')).toBe('/pools/{id}/resize');
  });

  it('adds slotwise.traceparent to a Batch job once, and only when known', () => {
    const body = { id: 'j', metadata: [{ name: 'slotwise.tenant', value: 'dev' }] };
    const traced = withTraceMetadata(body, tp);
    expect(traced.metadata).toEqual([...body.metadata, { name: TRACEPARENT_METADATA, value: tp }]);
    expect(withTraceMetadata(traced, tp)).toBe(traced);
    expect(withTraceMetadata(body, undefined)).toBe(body);
  });

  it('takes a valid traceparent off a message and drops an invalid one', () => {
    expect(takeTraceparent({ a: 1, traceparent: tp })).toEqual({ message: { a: 1 }, traceparent: tp });
    expect(takeTraceparent({ a: 1, traceparent: 'x' })).toEqual({ message: { a: 1 } });
    expect(takeTraceparent('text')).toEqual({ message: 'text' });
  });
});
