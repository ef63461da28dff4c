/** Lambda entry of the HTTP API: wiring only; the code lives in lib/. */
import { createApiHandler } from '../lib/api/lambda.js';
import { ipamFromEnv } from '../lib/runtime/services.js';

export const handler = createApiHandler(() => ipamFromEnv());
