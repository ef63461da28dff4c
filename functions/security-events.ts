/** Lambda entry of the DynamoDB stream consumer: wiring only; the code lives in lib/events/. */
import { Logger } from '@aws-lambda-powertools/logger';
import { createSecurityEventsHandler, logRecordError, loggerSink } from '../lib/events/handler.js';

// Service name from POWERTOOLS_SERVICE_NAME (the stack sets "ipam"). This function's log group is the
// security log group: every line it writes is either a security event or an error.
const logger = new Logger();

export const handler = createSecurityEventsHandler({ emit: loggerSink(logger), onRecordError: logRecordError(logger) });
