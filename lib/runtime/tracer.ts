/**
 * The Powertools Tracer, loaded only where it can do something: in a Lambda function with active
 * tracing (the X-Ray daemon address is set) and POWERTOOLS_TRACE_ENABLED not "false". Elsewhere
 * (the local service, tests, a Lambda without tracing) the module is never evaluated: loading it pulls
 * in the X-Ray SDK, which the API's cold start (measured against a bare DynamoDB client import, see
 * bench/cold-start.ts) should pay only when traces are wanted.
 */
import type { Tracer } from '@aws-lambda-powertools/tracer';

/** Whether this process should trace: a Lambda function with X-Ray active tracing, not switched off. */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME && env.AWS_XRAY_DAEMON_ADDRESS) && env.POWERTOOLS_TRACE_ENABLED !== 'false';
}

let tracer: Promise<Tracer | undefined> | undefined;

/** The process's one Tracer, or undefined when tracing is off (see tracingEnabled). */
export function getTracer(env: NodeJS.ProcessEnv = process.env): Promise<Tracer | undefined> {
  tracer ??= tracingEnabled(env) ? import('@aws-lambda-powertools/tracer').then(({ Tracer }) => new Tracer({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'ipam' })) : Promise.resolve(undefined);
  return tracer;
}

/** An AWS SDK v3 client whose calls become X-Ray subsegments when tracing is on; the client itself otherwise. */
export async function traced<T extends object>(client: T, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const t = await getTracer(env);
  return t ? t.captureAWSv3Client(client) : client;
}
