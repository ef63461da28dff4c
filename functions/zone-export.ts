/** Lambda entry (EventBridge schedule) of the DNS zone export: wiring only; the code lives in lib/integrations/export/. */
import { createZoneExportHandler } from '../lib/integrations/export/handler.js';
import { ipamFromEnv } from '../lib/runtime/ipam.js';
import { logger } from '../lib/runtime/logger.js';

export const handler = createZoneExportHandler({ ipam: () => ipamFromEnv(), logger });
