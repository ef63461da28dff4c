/** DNS zone files of a cloud: see zones.ts for the zone layout. */
export * from './names.js';
export * from './zones.js';
