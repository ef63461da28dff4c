/**
 * The process's one Powertools Logger (Powertools style: one file per singleton, so a function that
 * needs only the logger bundles only the logger). Service name from POWERTOOLS_SERVICE_NAME (the stack
 * sets "ipam"). All three Lambda functions log through it.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ipam' });
