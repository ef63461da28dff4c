/** Lambda entry of the DynamoDB stream consumer: wiring only; the code lives in lib/events/. */
import { createSecurityEventsHandler, logRecordError, loggerSink } from '../lib/events/handler.js';
import { logger } from '../lib/runtime/logger.js';

// This function's log group is the security log group: every line it writes is either a security event or an error.
export const handler = createSecurityEventsHandler({ emit: loggerSink(logger), onRecordError: logRecordError(logger) });
