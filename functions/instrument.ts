/**
 * Every function of the table in a span of its own, with logs correlated to it (shared/adapters/telemetry/
 * invocation.ts). Applied once, to the table, so Azure, the dev host and the tests run the same
 * instrumented handlers. Queue messages lose their `traceparent` field here: it is how the trace
 * crosses the queue, not part of what the handler parses. A caller's trace context (an HTTP
 * `traceparent` header, the field on a tenant's `job-requests` message) is only linked: each such
 * invocation starts a trace of Slotwise's own, so callers cannot choose a job's trace or its sampling.
 */
import type { HttpResponseInit } from '@azure/functions';
import { queueNames } from '../shared/adapters/queues/names.js';
import { setHttpStatus, traceInvocation } from '../shared/adapters/telemetry/invocation.js';
import { takeTraceparent } from '../shared/adapters/telemetry/trace-context.js';
import type { FunctionDefinition, HttpFunction, StorageQueueFunction, TimerFunction } from './definition.js';

export function instrumentFunction<D>(fn: FunctionDefinition<D>): FunctionDefinition<D> {
  switch (fn.kind) {
    case 'http': {
      const traced: HttpFunction<D> = {
        ...fn,
        handler: (request, context, deps) =>
          traceInvocation(
            {
              trigger: 'http',
              functionName: fn.name,
              hostTraceparent: context.traceContext?.traceParent,
              carriedTraceparent: request.headers.get('traceparent'),
              attributes: { 'http.request.method': request.method, 'http.route': fn.route ?? fn.name },
            },
            context,
            async (correlated, span) => {
              const response: HttpResponseInit = await fn.handler(request, correlated, deps);
              setHttpStatus(span, response.status ?? 200);
              return response;
            },
          ),
      };
      return traced;
    }
    case 'storageQueue': {
      const traced: StorageQueueFunction<D> = {
        ...fn,
        handler: (message, context, deps) => {
          const taken = takeTraceparent(message);
          return traceInvocation(
            {
              trigger: 'queue',
              functionName: fn.name,
              hostTraceparent: context.traceContext?.traceParent,
              carriedTraceparent: taken.traceparent,
              // Tenants write to this queue themselves; every other queue only Slotwise writes to.
              fromOutside: fn.queueName === queueNames.jobRequests,
              attributes: {
                'messaging.system': 'azure_storage_queues',
                'messaging.destination.name': fn.queueName,
                ...(typeof context.triggerMetadata?.id === 'string'
                  ? { 'messaging.message.id': context.triggerMetadata.id }
                  : {}),
              },
            },
            context,
            (correlated) => fn.handler(taken.message, correlated, deps),
          );
        },
      };
      return traced;
    }
    case 'timer': {
      const traced: TimerFunction<D> = {
        ...fn,
        handler: (timer, context, deps) =>
          traceInvocation(
            { trigger: 'timer', functionName: fn.name, hostTraceparent: context.traceContext?.traceParent },
            context,
            (correlated) => fn.handler(timer, correlated, deps),
          ),
      };
      return traced;
    }
  }
}
