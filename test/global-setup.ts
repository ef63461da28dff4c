/**
 * Starts one real DynamoDB Local (in memory) for the whole test run.
 * Each test file creates its own table in it (see test/support.ts).
 */
import type { TestProject } from 'vitest/node';
import path from 'node:path';
import { startDynamoLocal, type DynamoLocal } from '../lib/local/dynamodb-local.js';
import { ensureTools } from './tools.js';

let ddb: DynamoLocal | undefined;

export async function setup(project: TestProject) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  ensureTools(path.resolve(import.meta.dirname, '..'));
  ddb = await startDynamoLocal({ heapMb: 2048 });
  project.provide('ddbEndpoint', ddb.endpoint);
}

export async function teardown() {
  await ddb?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    ddbEndpoint: string;
  }
}
