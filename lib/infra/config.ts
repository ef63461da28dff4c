/**
 * Deployment configuration of the IPAM stack, read from CDK context (cdk.json or `cdk -c key=value`).
 *
 * Context values from cdk.json arrive as JSON (arrays, numbers); values given on the command line
 * arrive as strings. Every reader here accepts both: a list may be a JSON array, a JSON string of an
 * array, or a comma-separated string.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { checkDnsConfig, DNS_ENV, DnsConfigError, type DnsConfig } from '../integrations/dns/zones.js';

/** The context keys this app reads. docs/operations.md describes each one. */
export const CONTEXT_KEYS = {
  trustedPrincipals: 'ipam:trustedPrincipals',
  vpcEndpointIds: 'ipam:vpcEndpointIds',
  replicaRegions: 'ipam:replicaRegions',
  exportSchedule: 'ipam:exportSchedule',
  securityLogRetentionDays: 'ipam:securityLogRetentionDays',
  logRetentionDays: 'ipam:logRetentionDays',
  apiStageName: 'ipam:apiStageName',
  apiThrottleRateLimit: 'ipam:apiThrottleRateLimit',
  apiThrottleBurstLimit: 'ipam:apiThrottleBurstLimit',
  apiGatewayCloudWatchRole: 'ipam:apiGatewayCloudWatchRole',
  alarmEmail: 'ipam:alarmEmail',
  securityEventsEnabled: 'ipam:securityEventsEnabled',
  existingTableName: 'ipam:existingTableName',
  existingTableStreamArn: 'ipam:existingTableStreamArn',
  stackName: 'ipam:stackName',
  dnsPrimaryNs: 'ipam:dnsPrimaryNs',
  dnsPrimaryNsAddresses: 'ipam:dnsPrimaryNsAddresses',
  dnsSecondaryNs: 'ipam:dnsSecondaryNs',
  dnsHostmaster: 'ipam:dnsHostmaster',
  dnsTtl: 'ipam:dnsTtl',
  dnsRefresh: 'ipam:dnsRefresh',
  dnsRetry: 'ipam:dnsRetry',
  dnsExpire: 'ipam:dnsExpire',
  dnsNegativeTtl: 'ipam:dnsNegativeTtl',
} as const;

/** The DNS context keys, by the DnsConfig field they set (docs/operations.md, "DNS settings"). */
const DNS_CONTEXT = {
  primaryNs: 'dnsPrimaryNs',
  primaryNsAddresses: 'dnsPrimaryNsAddresses',
  secondaryNs: 'dnsSecondaryNs',
  hostmaster: 'dnsHostmaster',
  ttl: 'dnsTtl',
  refresh: 'dnsRefresh',
  retry: 'dnsRetry',
  expire: 'dnsExpire',
  negativeTtl: 'dnsNegativeTtl',
} as const satisfies Record<keyof typeof DNS_ENV, keyof typeof CONTEXT_KEYS>;

export interface IpamConfig {
  /** Account ids (12 digits) or IAM role/user ARNs that may call the API. Empty: the deploying account. */
  readonly trustedPrincipals: string[];
  /** Interface VPC endpoint ids (vpce-...). Non-empty: the API becomes PRIVATE and only reachable through them. */
  readonly vpcEndpointIds: string[];
  /** Regions that get a replica of the table (global table). Must not contain the stack's own region. */
  readonly replicaRegions: string[];
  /** EventBridge schedule expression for the zone export, e.g. `rate(15 minutes)` or `cron(0/5 * * * ? *)`. */
  readonly exportSchedule: string;
  /** Retention of the security event log group, in days (a CloudWatch Logs retention value). */
  readonly securityLogRetentionDays: RetentionDays;
  /** Retention of the operational log groups (functions, API access log), in days. */
  readonly logRetentionDays: RetentionDays;
  /** API Gateway stage name. */
  readonly apiStageName: string;
  /** Steady-state request rate limit of the stage (requests per second). */
  readonly apiThrottleRateLimit: number;
  /** Burst limit of the stage (requests). */
  readonly apiThrottleBurstLimit: number;
  /**
   * Whether this stack sets the account-wide API Gateway CloudWatch Logs role (needed for access and
   * execution logging). Set false when the account already has one managed elsewhere.
   */
  readonly apiGatewayCloudWatchRole: boolean;
  /** E-mail address subscribed to the alarm topic. Unset: no topic, alarms have no actions. */
  readonly alarmEmail?: string;
  /**
   * Whether the stream consumer runs. A standby Region's consumer is turned off while the primary is
   * active, because the replica's stream carries the primary's (replicated) writes too.
   */
  readonly securityEventsEnabled: boolean;
  /**
   * Standby deployment: use this existing table (the global table's replica in the stack's Region)
   * instead of creating one. Requires `existingTableStreamArn`.
   */
  readonly existingTableName?: string;
  /** Stream ARN of `existingTableName` in this Region. */
  readonly existingTableStreamArn?: string;
  /**
   * The deployment's default DNS settings (primary and secondary name servers, the primary's addresses,
   * hostmaster, timers), for clouds without settings of their own (PUT /v1/clouds/{cloud}/dns). They reach
   * the api and zone-export functions as IPAM_DNS_* variables. Without a primary and a hostmaster, a cloud
   * needs its own settings before its zones are served or exported.
   */
  readonly dnsPrimaryNs?: string;
  readonly dnsPrimaryNsAddresses?: string[];
  readonly dnsSecondaryNs?: string[];
  readonly dnsHostmaster?: string;
  readonly dnsTtl?: number;
  readonly dnsRefresh?: number;
  readonly dnsRetry?: number;
  readonly dnsExpire?: number;
  readonly dnsNegativeTtl?: number;
}

export const DEFAULT_CONFIG: IpamConfig = {
  trustedPrincipals: [],
  vpcEndpointIds: [],
  replicaRegions: [],
  exportSchedule: 'rate(15 minutes)',
  securityLogRetentionDays: RetentionDays.ONE_YEAR,
  logRetentionDays: RetentionDays.THREE_MONTHS,
  apiStageName: 'prod',
  apiThrottleRateLimit: 50,
  apiThrottleBurstLimit: 100,
  apiGatewayCloudWatchRole: true,
  securityEventsEnabled: true,
};

export const DEFAULT_STACK_NAME = 'Ipam';

const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/*:-]+$/;
const VPCE_ID = /^vpce-[0-9a-f]{8,17}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const SCHEDULE = /^(rate|cron)\(.+\)$/;
const STAGE_NAME = /^[A-Za-z0-9_]{1,128}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const STREAM_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}\/stream\/[0-9A-Za-z:.-]+$/;
const RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'),
);

export class IpamConfigError extends Error {
  constructor(key: string, message: string) {
    super(`Invalid context ${key}: ${message}`);
    this.name = 'IpamConfigError';
  }
}

/** Reads a list-valued context entry: JSON array, JSON-encoded array string, or comma-separated string. */
export function parseList(key: string, raw: unknown): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  let value: unknown = raw;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      try {
        value = JSON.parse(trimmed);
      } catch {
        throw new IpamConfigError(key, `not a JSON array: ${trimmed}`);
      }
    } else {
      value = trimmed.split(',');
    }
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new IpamConfigError(key, 'expected a list of strings');
  }
  return [...new Set(value.map((v) => v.trim()).filter((v) => v.length > 0))];
}

function parseNumber(key: string, raw: unknown, fallback: number): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isFinite(n) || n <= 0) throw new IpamConfigError(key, `expected a positive number, got ${String(raw)}`);
  return n;
}

function parseBoolean(key: string, raw: unknown, fallback: boolean): boolean {
  if (raw === undefined || raw === null || raw === '') return fallback;
  if (typeof raw === 'boolean') return raw;
  const s = String(raw).trim().toLowerCase();
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw new IpamConfigError(key, `expected true or false, got ${String(raw)}`);
}

function parseRetention(key: string, raw: unknown, fallback: RetentionDays): RetentionDays {
  const n = parseNumber(key, raw, fallback);
  if (!RETENTION_VALUES.has(n)) {
    throw new IpamConfigError(
      key,
      `${n} is not a CloudWatch Logs retention value (one of ${[...RETENTION_VALUES].sort((a, b) => a - b).join(', ')})`,
    );
  }
  return n as RetentionDays;
}

function parseString(key: string, raw: unknown, fallback: string, pattern: RegExp): string {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const s = String(raw).trim();
  if (!pattern.test(s)) throw new IpamConfigError(key, `unexpected value ${JSON.stringify(s)}`);
  return s;
}

function parseSeconds(key: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(String(raw)) ? Number(String(raw).trim()) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 2147483647) throw new IpamConfigError(key, `expected a whole number of seconds (0-2147483647), got ${String(raw)}`);
  return n;
}

/** The DNS defaults of the context, checked as the functions will check them (IPAM_DNS_*). */
function resolveDnsDefaults(input: Partial<Record<keyof IpamConfig, unknown>>): Partial<IpamConfig> {
  const k = CONTEXT_KEYS;
  const text = (raw: unknown) => (raw === undefined || raw === null || raw === '' ? undefined : String(raw).trim());
  const out = {
    dnsPrimaryNs: text(input.dnsPrimaryNs),
    dnsPrimaryNsAddresses: parseList(k.dnsPrimaryNsAddresses, input.dnsPrimaryNsAddresses),
    dnsSecondaryNs: parseList(k.dnsSecondaryNs, input.dnsSecondaryNs),
    dnsHostmaster: text(input.dnsHostmaster),
    dnsTtl: parseSeconds(k.dnsTtl, input.dnsTtl),
    dnsRefresh: parseSeconds(k.dnsRefresh, input.dnsRefresh),
    dnsRetry: parseSeconds(k.dnsRetry, input.dnsRetry),
    dnsExpire: parseSeconds(k.dnsExpire, input.dnsExpire),
    dnsNegativeTtl: parseSeconds(k.dnsNegativeTtl, input.dnsNegativeTtl),
  };
  try {
    checkDnsConfig(dnsDefaults(out));
  } catch (e) {
    if (!(e instanceof DnsConfigError)) throw e;
    // The same check the functions make, told in context keys instead of their IPAM_DNS_* variables.
    const contextKey = (f: keyof typeof DNS_ENV) => CONTEXT_KEYS[DNS_CONTEXT[f]];
    const envToKey = (v: string) => (Object.keys(DNS_ENV) as (keyof typeof DNS_ENV)[]).find((f) => DNS_ENV[f] === v);
    throw new IpamConfigError(contextKey(e.field ?? 'primaryNs'), e.detail.replace(/IPAM_DNS_[A-Z_]+/g, (v) => (envToKey(v) ? contextKey(envToKey(v)!) : v)));
  }
  return out;
}

/** The DNS defaults of a configuration as the functions read them. */
export function dnsDefaults(cfg: Partial<IpamConfig>): DnsConfig {
  const out: DnsConfig = {};
  for (const [field, prop] of Object.entries(DNS_CONTEXT) as [keyof typeof DNS_ENV, keyof IpamConfig][]) {
    const v = cfg[prop];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    (out as Record<string, unknown>)[field] = v;
  }
  return out;
}

/** The IPAM_DNS_* environment variables that carry a configuration's DNS defaults to the functions. */
export function dnsEnvironment(cfg: Partial<IpamConfig>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [field, v] of Object.entries(dnsDefaults(cfg)) as [keyof typeof DNS_ENV, unknown][]) env[DNS_ENV[field]] = Array.isArray(v) ? v.join(',') : String(v);
  return env;
}

/** Validates a (partial) configuration and fills in defaults. Throws IpamConfigError on bad input. */
export function resolveConfig(input: Partial<Record<keyof IpamConfig, unknown>> = {}): IpamConfig {
  const k = CONTEXT_KEYS;
  const trustedPrincipals = parseList(k.trustedPrincipals, input.trustedPrincipals);
  for (const p of trustedPrincipals) {
    if (!ACCOUNT_ID.test(p) && !PRINCIPAL_ARN.test(p)) {
      throw new IpamConfigError(k.trustedPrincipals, `${p} is neither a 12-digit account id nor an IAM principal ARN`);
    }
  }
  const vpcEndpointIds = parseList(k.vpcEndpointIds, input.vpcEndpointIds);
  for (const id of vpcEndpointIds) {
    if (!VPCE_ID.test(id)) throw new IpamConfigError(k.vpcEndpointIds, `${id} is not a VPC endpoint id (vpce-...)`);
  }
  const replicaRegions = parseList(k.replicaRegions, input.replicaRegions);
  for (const r of replicaRegions) {
    if (!REGION.test(r)) throw new IpamConfigError(k.replicaRegions, `${r} is not a region name`);
  }
  const apiThrottleRateLimit = parseNumber(k.apiThrottleRateLimit, input.apiThrottleRateLimit, DEFAULT_CONFIG.apiThrottleRateLimit);
  const apiThrottleBurstLimit = parseNumber(k.apiThrottleBurstLimit, input.apiThrottleBurstLimit, DEFAULT_CONFIG.apiThrottleBurstLimit);
  if (!Number.isInteger(apiThrottleBurstLimit)) {
    throw new IpamConfigError(k.apiThrottleBurstLimit, 'expected an integer');
  }
  const alarmEmail =
    input.alarmEmail === undefined || input.alarmEmail === null || input.alarmEmail === ''
      ? undefined
      : parseString(k.alarmEmail, input.alarmEmail, '', EMAIL);
  const optional = (key: string, raw: unknown, pattern: RegExp) =>
    raw === undefined || raw === null || raw === '' ? undefined : parseString(key, raw, '', pattern);
  const existingTableName = optional(k.existingTableName, input.existingTableName, TABLE_NAME);
  const existingTableStreamArn = optional(k.existingTableStreamArn, input.existingTableStreamArn, STREAM_ARN);
  if ((existingTableName === undefined) !== (existingTableStreamArn === undefined)) {
    throw new IpamConfigError(k.existingTableName, `${k.existingTableName} and ${k.existingTableStreamArn} go together`);
  }
  if (existingTableName && replicaRegions.length) {
    throw new IpamConfigError(k.replicaRegions, `must be empty when ${k.existingTableName} is set (the owning stack manages replicas)`);
  }
  return {
    trustedPrincipals,
    vpcEndpointIds,
    replicaRegions,
    exportSchedule: parseString(k.exportSchedule, input.exportSchedule, DEFAULT_CONFIG.exportSchedule, SCHEDULE),
    securityLogRetentionDays: parseRetention(
      k.securityLogRetentionDays,
      input.securityLogRetentionDays,
      DEFAULT_CONFIG.securityLogRetentionDays,
    ),
    logRetentionDays: parseRetention(k.logRetentionDays, input.logRetentionDays, DEFAULT_CONFIG.logRetentionDays),
    apiStageName: parseString(k.apiStageName, input.apiStageName, DEFAULT_CONFIG.apiStageName, STAGE_NAME),
    apiThrottleRateLimit,
    apiThrottleBurstLimit,
    apiGatewayCloudWatchRole: parseBoolean(
      k.apiGatewayCloudWatchRole,
      input.apiGatewayCloudWatchRole,
      DEFAULT_CONFIG.apiGatewayCloudWatchRole,
    ),
    alarmEmail,
    securityEventsEnabled: parseBoolean(k.securityEventsEnabled, input.securityEventsEnabled, DEFAULT_CONFIG.securityEventsEnabled),
    existingTableName,
    existingTableStreamArn,
    ...resolveDnsDefaults(input),
  };
}

/** Reads the configuration from the context of a construct node (the app's or any child's). */
export function configFromContext(node: Node): IpamConfig {
  const input: Partial<Record<keyof IpamConfig, unknown>> = {};
  for (const [prop, key] of Object.entries(CONTEXT_KEYS)) {
    if (prop === 'stackName') continue;
    input[prop as keyof IpamConfig] = node.tryGetContext(key);
  }
  return resolveConfig(input);
}
