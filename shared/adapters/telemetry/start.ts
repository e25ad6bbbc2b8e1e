/**
 * Starts the OpenTelemetry SDK once per process, before the app's clients are built (meters taken
 * earlier would stay no-ops). Which exporter, from the settings:
 *
 * | setting                                   | telemetry goes to                                  |
 * |-------------------------------------------|----------------------------------------------------|
 * | `APPLICATIONINSIGHTS_CONNECTION_STRING`   | Azure Monitor (`@azure/monitor-opentelemetry`)     |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT`             | OTLP (the SDK reads the other `OTEL_*` settings)   |
 * | `SLOTWISE_TELEMETRY=console`              | the console (spans, metrics every 60 s, logs)      |
 * | none of these, or `SLOTWISE_TELEMETRY=off` | nowhere: the API stays a no-op                    |
 *
 * Application Insights with local auth off (as the template creates it) takes a Microsoft Entra token:
 * `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` (`ClientId=<id>;Authorization=AAD`, the form the
 * Functions host reads) selects the managed identity. SDK packages are loaded only when used.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { z } from 'zod';
import { SlotwiseError } from '../../core/errors.js';

export type TelemetryMode = 'azureMonitor' | 'otlp' | 'console' | 'none';

const settingsSchema = z.object({
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().trim().optional(),
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z.string().trim().optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().trim().optional(),
  OTEL_SERVICE_NAME: z.string().trim().optional(),
  SLOTWISE_TELEMETRY: z
    .enum(['', 'console', 'off'], { message: "must be 'console', 'off' or empty" })
    .optional(),
});

/** Settings read here (none is required). */
export const telemetrySettingNames = Object.keys(settingsSchema.shape);

export type TelemetrySettings = z.infer<typeof settingsSchema>;

export function readTelemetrySettings(env: Record<string, string | undefined>): TelemetrySettings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success)
    throw new SlotwiseError(
      'InvalidConfiguration',
      `Invalid telemetry settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** Which exporter the settings choose (the table above, top row first). */
export function telemetryMode(settings: TelemetrySettings): TelemetryMode {
  if (settings.SLOTWISE_TELEMETRY === 'off') return 'none';
  if (settings.APPLICATIONINSIGHTS_CONNECTION_STRING) return 'azureMonitor';
  if (settings.OTEL_EXPORTER_OTLP_ENDPOINT) return 'otlp';
  if (settings.SLOTWISE_TELEMETRY === 'console') return 'console';
  return 'none';
}

/**
 * From `ClientId=<id>;Authorization=AAD`: the managed identity's client id, undefined for Entra with
 * the system-assigned identity (no ClientId), null when the string does not ask for Entra at all.
 */
export function entraClientId(authenticationString: string | undefined): string | undefined | null {
  if (!authenticationString) return null;
  const parts = new Map(
    authenticationString.split(';').map((p) => {
      const [k = '', ...v] = p.split('=');
      return [k.trim().toLowerCase(), v.join('=').trim()] as const;
    }),
  );
  if (parts.get('authorization')?.toLowerCase() !== 'aad') return null;
  return parts.get('clientid') || undefined;
}

export interface Telemetry {
  readonly mode: TelemetryMode | 'custom';
  /** Flushes and stops exporting. Idempotent. */
  shutdown(): Promise<void>;
}

/** In-process exporters instead of the settings' (tests). */
export type TelemetryExporters = Pick<
  Partial<NodeSDKConfiguration>,
  'spanProcessors' | 'metricReaders' | 'logRecordProcessors'
>;

export async function startTelemetry(
  env: Record<string, string | undefined>,
  options: { exporters?: TelemetryExporters; credential?: TokenCredential } = {},
): Promise<Telemetry> {
  const settings = readTelemetrySettings(env);
  const mode = options.exporters ? 'custom' : telemetryMode(settings);
  const serviceName = settings.OTEL_SERVICE_NAME || 'slotwise';
  switch (mode) {
    case 'none':
      return { mode, shutdown: async () => undefined };
    case 'azureMonitor': {
      const { useAzureMonitor, shutdownAzureMonitor } = await import('@azure/monitor-opentelemetry');
      const clientId = entraClientId(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING);
      let credential = options.credential;
      if (!credential && clientId !== null) {
        const { ManagedIdentityCredential } = await import('@azure/identity');
        credential = clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
      }
      useAzureMonitor({
        azureMonitorExporterOptions: {
          connectionString: settings.APPLICATIONINSIGHTS_CONNECTION_STRING!,
          ...(credential ? { credential } : {}),
        },
        enableLiveMetrics: false,
      });
      return once(mode, () => shutdownAzureMonitor());
    }
    case 'otlp':
    case 'console':
    case 'custom': {
      const { NodeSDK, tracing, metrics, logs } = await import('@opentelemetry/sdk-node');
      const exporters: TelemetryExporters =
        mode === 'custom'
          ? options.exporters!
          : mode === 'console'
            ? {
                spanProcessors: [new tracing.SimpleSpanProcessor(new tracing.ConsoleSpanExporter())],
                metricReaders: [
                  new metrics.PeriodicExportingMetricReader({
                    exporter: new metrics.ConsoleMetricExporter(),
                  }),
                ],
                logRecordProcessors: [
                  new logs.SimpleLogRecordProcessor({ exporter: new logs.ConsoleLogRecordExporter() }),
                ],
              }
            : {}; // OTLP: the SDK builds exporters from OTEL_EXPORTER_OTLP_* (protocol, headers, ...).
      const sdk = new NodeSDK({
        serviceName,
        // No automatic instrumentation: the spans that matter are made where the work is.
        instrumentations: [],
        ...(exporters.spanProcessors ? { spanProcessors: exporters.spanProcessors } : {}),
        ...(exporters.metricReaders ? { metricReaders: exporters.metricReaders } : {}),
        ...(exporters.logRecordProcessors ? { logRecordProcessors: exporters.logRecordProcessors } : {}),
      });
      sdk.start();
      return once(mode, () => sdk.shutdown());
    }
  }
}

function once(mode: Telemetry['mode'], stop: () => Promise<void>): Telemetry {
  let stopping: Promise<void> | undefined;
  return {
    mode,
    shutdown() {
      stopping ??= stop();
      return stopping;
    },
  };
}
