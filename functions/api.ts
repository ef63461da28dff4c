/** Lambda entry of the HTTP API: wiring only; the code lives in lib/. */
import { createApiHandler } from '../lib/api/lambda.js';
import { servicesFromEnv } from '../lib/runtime/services.js';

export const handler = createApiHandler(() => servicesFromEnv());
