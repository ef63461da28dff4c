/**
 * Transport-neutral request/response shapes of the API, and the error mapping.
 * The Lambda adapter and the local server both translate to and from these.
 */
import { ZodError } from 'zod';
import { IpamError, type ErrorKind } from '../core/errors.js';

export interface ApiRequest {
  method: string;
  /** The path as sent, e.g. `/v1/clouds/prod/addresses/10.0.0.1`. */
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: string | null;
  principal: string;
  requestId: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const MAX_BODY_BYTES = 1024 * 1024;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function text(status: number, body: string, contentType: string, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { 'content-type': contentType, ...headers }, body };
}

export const empty = (status = 204): ApiResponse => ({ status, headers: {}, body: '' });

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const STATUS: Record<ErrorKind, number> = { InvalidInput: 400, NotFound: 404, Conflict: 409, TooBusy: 503 };

const kebab = (s: string) => s.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();

/** RFC 9457 problem details. `reason` is the stable code clients branch on. */
export function problem(status: number, detail: string, reason?: string, extra: Record<string, unknown> = {}): ApiResponse {
  const r = reason ?? kebab(TITLES[status] ?? 'error').replace(/ /g, '-');
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...(status === 503 ? { 'retry-after': '1' } : {}) },
    body: JSON.stringify({ type: `urn:ipam:problem:${kebab(r)}`, title: TITLES[status] ?? 'Error', status, detail, ...(reason ? { reason } : {}), ...extra }),
  };
}

export function errorResponse(e: unknown): ApiResponse | undefined {
  if (e instanceof IpamError) return problem(STATUS[e.kind], e.message, e.reason, Object.keys(e.details).length ? { details: e.details } : {});
  if (e instanceof ZodError) {
    const issues = e.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    return problem(400, issues.map((i) => `${i.path}: ${i.message}`).join('; '), 'InvalidInput', { issues });
  }
  return undefined;
}
