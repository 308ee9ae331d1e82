/**
 * OpenTelemetry traces, opt-in through the standard `OTEL_*` variables (docs/operations.md). Off, nothing is
 * registered: the API's global no-op tracer makes every span below free. On, one provider per process exports
 * over OTLP/HTTP; the request, the workflow start, the workflow, its activities and the statements wrapped by
 * `traceStatement` join one trace through the W3C context (in-process) and Temporal's headers (across).
 */
import { type Attributes, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NoopSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

export interface Tracing {
  processor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
}

let installed: Tracing | undefined;

/** On when an exporter or an OTLP endpoint is named (and the SDK is not disabled). */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter) return exporter !== 'none';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Registers the process's tracer provider (once): the given processor (tests: an in-memory exporter) or,
 * from the environment, a batching OTLP/HTTP exporter (`OTEL_TRACES_EXPORTER=console` prints spans instead).
 */
export function installTracing(serviceName: string, processor?: SpanProcessor): Tracing {
  if (installed) return installed;
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': serviceName }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over our default name.
    .merge(envDetectorSync.detect());
  const chosen =
    processor ??
    new BatchSpanProcessor(
      process.env.OTEL_TRACES_EXPORTER === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter(),
    );
  const provider = new BasicTracerProvider({ resource, spanProcessors: [chosen] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  installed = { processor: chosen, resource, shutdown: () => provider.shutdown() };
  return installed;
}

/** The installed tracing, if any; the worker gives its processor to the workflow span sink. */
export const currentTracing = (): Tracing | undefined => installed;

/** A processor that drops spans: the workflow span sink's when tracing is off. */
export const noTracing = (): { processor: SpanProcessor; resource: Resource } => ({
  processor: new NoopSpanProcessor(),
  resource: Resource.empty(),
});

const tracer = () => trace.getTracer('herald');

/**
 * Runs one database statement (or a transaction of a few) as a child span of the active one: `db <name>`,
 * with the statement's name, never its parameters.
 */
export async function traceStatement<T>(name: string, run: () => Promise<T>): Promise<T> {
  const attributes: Attributes = { 'db.system': 'postgresql', 'db.operation.name': name };
  return tracer().startActiveSpan(`db ${name}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await run();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
      throw err;
    } finally {
      span.end();
    }
  });
}
