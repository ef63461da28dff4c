/** Scheduled exports of DNS zones (see zones.ts) to S3 or a directory. */
export * from './clouds.js';
export * from './object-store.js';
export * from './scheduler.js';
export * from './zones.js';
export * from './handler.js';
