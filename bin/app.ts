#!/usr/bin/env node
/**
 * The CDK app (cdk.json: "app": "npx tsx bin/app.ts"). Synthesizes offline without AWS credentials:
 * the stack is environment-agnostic unless CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION are set.
 * Context keys (ipam:*) are documented in docs/operations.md; cdk.json holds their defaults.
 */
import { createIpamApp } from '../lib/infra/app.js';

const { app } = createIpamApp();
app.synth();
