/**
 * The DynamoDB stream consumer: turns each stream record into its security events (lib/events/security.ts)
 * and hands them to a sink. Powertools batch processing reports exactly the records whose events could not
 * be produced or emitted (ReportBatchItemFailures), so Lambda retries from the first of them.
 *
 * The same handler runs in Lambda (functions/security-events.ts, sink = Powertools Logger to stdout, i.e.
 * the security log group) and in the local service (lib/local/stream-reader.ts, sink = a JSONL file).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { toSecurityEvents, type SecurityEvent } from './security.js';

/** Where events go. A rejection (or throw) fails the record the event came from. */
export type SecurityEventSink = (event: SecurityEvent) => void | Promise<void>;

/** A Lambda handler of DynamoDB stream events with partial batch responses. */
export type SecurityEventsHandler = (event: DynamoDBStreamEvent, context?: Context) => Promise<DynamoDBBatchResponse>;

export interface SecurityEventsHandlerOptions {
  emit: SecurityEventSink;
  /** Called for every record that fails (before it is reported in batchItemFailures). */
  onRecordError?: (error: unknown, record: DynamoDBRecord) => void;
  /** The record mapping; default toSecurityEvents. */
  map?: (record: DynamoDBRecord) => SecurityEvent[];
}

/** The `message` of every security event log line. */
export const SECURITY_EVENT_MESSAGE = 'security event';

/**
 * A handler that emits the events of every record, in stream order, one record after the other.
 * When every record of a batch fails it throws (Powertools' FullBatchFailureError), which makes Lambda
 * retry (and, with BisectBatchOnFunctionError, split) the batch; otherwise it returns
 * `{ batchItemFailures: [{ itemIdentifier: <SequenceNumber> }, ...] }` listing exactly the failed records.
 */
export function createSecurityEventsHandler(opts: SecurityEventsHandlerOptions): SecurityEventsHandler {
  const map = opts.map ?? toSecurityEvents;
  const recordHandler = async (record: DynamoDBRecord): Promise<void> => {
    try {
      for (const event of map(record)) await opts.emit(event);
    } catch (error) {
      opts.onRecordError?.(error, record);
      throw error;
    }
  };
  return async (event, context) => {
    if (!event?.Records?.length) return { batchItemFailures: [] };
    // A processor per invocation: it keeps per-batch state, and the local reader may share one handler.
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    return processPartialResponse(event, recordHandler, processor, { ...(context ? { context } : {}), processInParallel: false });
  };
}

/**
 * The Lambda sink: one log line per event, the event's fields at the top level of Powertools' JSON
 * (next to level, message = "security event", timestamp, service, sampling_rate, xray_trace_id).
 */
export function loggerSink(logger: Pick<Logger, 'info'>): SecurityEventSink {
  return (event) => logger.info(SECURITY_EVENT_MESSAGE, event);
}

/** Logs why a record failed (as an ERROR line, message "security event failed") without its item images. */
export function logRecordError(logger: Pick<Logger, 'error'>): (error: unknown, record: DynamoDBRecord) => void {
  return (error, record) =>
    logger.error('security event failed', {
      eventId: record.eventID,
      eventName: record.eventName,
      sequenceNumber: record.dynamodb?.SequenceNumber,
      keys: record.dynamodb?.Keys,
      error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
    });
}
