/**
 * Typed domain errors. The API maps `kind` to an HTTP status (404/400/409);
 * `reason` is a stable machine-readable code that clients and the CLI can branch on.
 */
export type ErrorKind = 'NotFound' | 'InvalidInput' | 'Conflict' | 'TooBusy';

export type ErrorReason =
  | 'PoolNotFound'
  | 'AllocationNotFound'
  | 'EnvironmentNotFound'
  | 'ZoneNotFound'
  | 'DnsSettingsNotFound'
  | 'InvalidInput'
  | 'ReservedKey'
  | 'MappedAddress'
  | 'AddressTaken'
  | 'Overlap'
  | 'PoolExhausted'
  | 'PoolNotEmpty'
  | 'PoolExists'
  | 'RangeInUse'
  | 'HolderMismatch'
  | 'IdempotentParameterMismatch'
  | 'EnvironmentConflict'
  | 'ZoneLimit'
  | 'ZoneMismatch'
  | 'DnsNotConfigured'
  | 'NetworkNotFound'
  | 'NetworkExists'
  | 'NetworkOverlap'
  | 'NetworkInUse'
  | 'DomainTaken'
  | 'MacTaken'
  | 'HostnameTaken'
  | 'HostnameOutsideDomain'
  | 'NoNetwork'
  | 'NicConflict'
  | 'Contention';

const KIND_OF: Record<ErrorReason, ErrorKind> = {
  PoolNotFound: 'NotFound',
  AllocationNotFound: 'NotFound',
  EnvironmentNotFound: 'NotFound',
  ZoneNotFound: 'NotFound',
  DnsSettingsNotFound: 'NotFound',
  InvalidInput: 'InvalidInput',
  ReservedKey: 'InvalidInput',
  MappedAddress: 'InvalidInput',
  AddressTaken: 'Conflict',
  Overlap: 'Conflict',
  PoolExhausted: 'Conflict',
  PoolNotEmpty: 'Conflict',
  PoolExists: 'Conflict',
  RangeInUse: 'Conflict',
  HolderMismatch: 'Conflict',
  IdempotentParameterMismatch: 'Conflict',
  EnvironmentConflict: 'Conflict',
  ZoneLimit: 'Conflict',
  ZoneMismatch: 'InvalidInput',
  DnsNotConfigured: 'Conflict',
  NetworkNotFound: 'NotFound',
  NetworkExists: 'Conflict',
  NetworkOverlap: 'Conflict',
  NetworkInUse: 'Conflict',
  DomainTaken: 'Conflict',
  MacTaken: 'Conflict',
  HostnameTaken: 'Conflict',
  HostnameOutsideDomain: 'InvalidInput',
  NoNetwork: 'Conflict',
  NicConflict: 'Conflict',
  Contention: 'TooBusy',
};

export class IpamError extends Error {
  readonly kind: ErrorKind;
  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'IpamError';
    this.kind = KIND_OF[reason];
  }
}

export const invalid = (message: string, details?: Record<string, unknown>) => new IpamError('InvalidInput', message, details);

export function isIpamError(e: unknown, reason?: ErrorReason): e is IpamError {
  return e instanceof IpamError && (reason === undefined || e.reason === reason);
}
