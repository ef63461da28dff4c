/**
 * The per-process wiring (lib/runtime): the API handler's log lines carry the Lambda context, and the
 * Tracer is loaded only in a Lambda function with active tracing.
 */
import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../lib/api/lambda.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { traced, tracingEnabled } from '../lib/runtime/tracer.js';

const context = { functionName: 'ipam-api', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:ipam-api', memoryLimitInMB: '512', awsRequestId: 'lambda-req-42', logGroupName: '/aws/lambda/ipam-api', logStreamName: 's', callbackWaitsForEmptyEventLoop: true } as unknown as Context;
const event = { httpMethod: 'GET', path: '/v1/clouds/c/zones/z/pools/p', headers: {}, multiValueHeaders: {}, queryStringParameters: null, multiValueQueryStringParameters: null, body: null, isBase64Encoded: false, requestContext: { requestId: 'api-req-7', identity: {} } } as never;

describe('the API handler in Lambda', () => {
  it('logs with the Lambda request id and cold start, and answers 500 with the API request id', async () => {
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => (lines.push(String(chunk)), true);
    const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(capture), vi.spyOn(process.stderr, 'write').mockImplementation(capture)];
    let res;
    try {
      const handler = createApiHandler(() => {
        throw new Error('boom');
      });
      res = await handler(event, context);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body).detail).toContain('api-req-7');
    const logged = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.message === 'unhandled error');
    expect(logged).toMatchObject({ function_request_id: 'lambda-req-42', function_name: 'ipam-api', cold_start: expect.any(Boolean), requestId: 'api-req-7' });
  });
});

describe('the tracer', () => {
  it('is enabled only in a Lambda function with X-Ray active tracing, unless switched off', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ AWS_LAMBDA_FUNCTION_NAME: 'f' })).toBe(false);
    expect(tracingEnabled({ AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000' })).toBe(false);
    expect(tracingEnabled({ AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000' })).toBe(true);
    expect(tracingEnabled({ AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000', POWERTOOLS_TRACE_ENABLED: 'false' })).toBe(false);
  });

  it('captures a DynamoDB client (X-Ray middleware on its stack) when tracing is on', async () => {
    const env = { AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const client = new DynamoDBClient({ region: 'us-east-1' });
      expect(client.middlewareStack.identify().some((n) => /xray/i.test(n))).toBe(false);
      const same = await traced(client, { ...process.env, ...env });
      expect(same).toBe(client);
      expect(client.middlewareStack.identify().some((n) => /xray/i.test(n))).toBe(true);
      client.destroy();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    }
  });
});
