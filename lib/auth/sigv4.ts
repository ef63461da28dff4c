/**
 * AWS Signature Version 4 verification for the local service, mirroring what
 * API Gateway does for a method with `AWS_IAM` authorization (service
 * `execute-api`).
 *
 * One file of about 500 lines on purpose: each canonicalization step below must be checked against
 * the AWS rules next to the others, and splitting them would hide how a request is read once.
 *
 * Canonical request (non-S3 rules, which API Gateway uses):
 *   - URI: the path *as received on the wire*, dot-segments and empty segments
 *     removed, then every segment URI-encoded once more (RFC 3986 unreserved
 *     characters A-Z a-z 0-9 - _ . ~ stay, everything else becomes %XX). So a
 *     wire path `/v1/clouds/a%20b/vms/i:1` canonicalizes to
 *     `/v1/clouds/a%2520b/vms/i%3A1`. This is the "double encoding" the AWS
 *     SDKs do by default (`uriEscapePath: true`), and what API Gateway checks.
 *   - Query: each `k=v` pair decoded, then URI-encoded (same unreserved set),
 *     sorted by encoded key then encoded value; a key without `=` gets an
 *     empty value (`k=`). For presigned URLs `X-Amz-Signature` is left out.
 *     A raw `+` decodes to a space (so canonicalizes to `%20`), the meaning
 *     the handler gets too: both read the same `parseQuery` result.
 *   - Headers: the SignedHeaders list, values trimmed and inner whitespace
 *     runs collapsed; multiple values joined with `,`.
 *   - Payload: lowercase hex SHA-256 of the body (`UNSIGNED-PAYLOAD` is not
 *     accepted by execute-api).
 *
 * curl compatibility (`curlCompat`, on by default): older curl releases (the
 * Debian 12 curl 7.88.1 used by the tests, for instance) do not canonicalize at
 * all: they sign the path and the query string exactly as they appear in the
 * URL. That agrees with the rules above only when the path has no character
 * that needs escaping and the query is already sorted and fully encoded. Real
 * API Gateway rejects such signatures (curl/curl#18423: `:` in the path fails
 * against execute-api and Lambda URLs while awscurl/botocore, which
 * double-encode, succeed; later curl releases canonicalize the query and the
 * path like the SDKs). So that old curl keeps working locally, when the
 * canonical signature does not match we also try the "verbatim" canonical
 * request (raw path, raw query), except when the raw path contains `%25`.
 * Reason: an SDK-signed request for `/x/a%41` has the canonical path
 * `/x/a%2541`; without the exception a replayed request for the *different*
 * resource `/x/a%2541` would verify in verbatim form. With it, a
 * verbatim-form match always means the same decoded path and query as the
 * signer intended (proof in the comments of `verbatimAllowed`). The cost is
 * that old curl cannot sign paths containing a literal `%` (`%25`).
 * Set `curlCompat: false` for API Gateway's exact behaviour.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedRequest {
  method: string;
  /** Raw path as received, still percent-encoded, e.g. '/v1/clouds/a%20b'. */
  path: string;
  /**
   * Raw query string without the leading '?' ('' when none), or the request's one parse of it
   * (parseQuery), which the caller then also gives the handler.
   */
  query: string | ParsedQuery;
  /** Node's IncomingHttpHeaders (names lowercased). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Caller {
  accessKeyId: string;
  secretAccessKey: string;
  principal: string;
  /** Resource patterns, see isAllowed. Absent: allowed everywhere. */
  allow?: string[];
}

export type VerifyResult = { ok: true; caller: Caller } | { ok: false; status: 403; message: string };

export interface VerifyOptions {
  region: string;
  service?: 'execute-api';
  now?: Date;
  /** Allowed clock skew either way for header-signed requests. Default 15 minutes. */
  maxSkewMs?: number;
  /** Also accept the verbatim (non-canonicalized) form old curl signs. Default true. */
  curlCompat?: boolean;
}

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const SERVICE = 'execute-api';
const DEFAULT_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** API Gateway's wording where known. */
export const MESSAGES = {
  missingToken: 'Missing Authentication Token',
  invalidToken: 'The security token included in the request is invalid.',
  signatureMismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  missingDate: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
  twoMechanisms:
    'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
  notAuthorized: (principal: string) => `User: ${principal} is not authorized to access this resource`,
} as const;

type Failure = { ok: false; status: 403; message: string };
const deny = (message: string): Failure => ({ ok: false, status: 403, message });

// ---------------------------------------------------------------- encoding

const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') UNRESERVED[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

/**
 * RFC 3986 encoding of the UTF-8 bytes of `s`, keeping only unreserved
 * characters. Same result as the SDK's `escapeUri` for any well-formed string,
 * but never throws (lone surrogates become U+FFFD instead of a URIError).
 */
export function uriEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += UNRESERVED[b] ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Canonical URI for non-S3 services: normalize, then encode each segment of the raw path once more. */
export function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg);
  }
  const lead = rawPath.startsWith('/') ? '/' : '';
  const trail = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  const path = `${lead}${segments.map(uriEncode).join('/')}${trail}`;
  return path === '' ? '/' : path;
}

/**
 * A query string parsed once: the raw text (for the verbatim form old curl signs) and its decoded
 * pairs, in wire order. The local server parses each request's query exactly once and hands this
 * same object to the verifier (canonical query string) and to the handler (the event's
 * queryStringParameters), so the two cannot read different parameters from one query.
 */
export interface ParsedQuery {
  readonly raw: string;
  readonly pairs: ReadonlyArray<readonly [string, string]>;
}

/** One query component: `+` is a space (form encoding, as API Gateway hands `+` to Lambda), then %XX decoded. */
function decodeComponent(s: string): string {
  return safeDecode(s.replace(/\+/g, ' '));
}

/**
 * Splits a raw query string into decoded [key, value] pairs. A raw `+` means a space, in the
 * parameters the handler reads and so also in the canonical query string (`%20`); a literal plus
 * must be sent as `%2B`. A key without `=` gets the value ''.
 */
export function parseQuery(rawQuery: string): ParsedQuery {
  const pairs: Array<[string, string]> = [];
  for (const piece of rawQuery ? rawQuery.split('&') : []) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    if (eq < 0) pairs.push([decodeComponent(piece), '']);
    else pairs.push([decodeComponent(piece.slice(0, eq)), decodeComponent(piece.slice(eq + 1))]);
  }
  return { raw: rawQuery, pairs };
}

/** The query-string authentication parameters of a presigned URL: the verifier's, never the API's. */
export const PRESIGN_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'];
/** What the handler of a presigned request does not see: the parameters above and a session token. */
export const AUTH_QUERY_PARAMS: ReadonlySet<string> = new Set([...PRESIGN_PARAMS, 'X-Amz-Security-Token']);

/** Does a query with these keys ask for query-string authentication (a presigned URL)? */
export function isPresignedQuery(keys: Iterable<string>): boolean {
  for (const k of keys) if (k === 'X-Amz-Algorithm' || k === 'X-Amz-Signature' || k === 'X-Amz-Credential') return true;
  return false;
}

/** Canonical query string: encode keys and values, sort by key then value. */
export function canonicalQuery(query: string | ParsedQuery, omitSignature = false): string {
  const encoded: Array<[string, string]> = [];
  for (const [k, v] of (typeof query === 'string' ? parseQuery(query) : query).pairs) {
    if (omitSignature && k === 'X-Amz-Signature') continue;
    encoded.push([uriEncode(k), uriEncode(v)]);
  }
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalHeaderValue(v: string | string[]): string {
  const one = (s: string) => s.replace(/[ \t\r\n]+/g, ' ').replace(/^ | $/g, '');
  return Array.isArray(v) ? v.map(one).join(',') : one(v);
}

// ------------------------------------------------------------------ crypto

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/**
 * Signing keys already derived (4 HMACs each; a caller's key changes once a day), as the SDK signers
 * keep theirs. Only keys of known callers with a scope that passed the checks get here: at most a
 * caller's two dates around midnight, so the bound only guards against surprises.
 */
const signingKeys = new Map<string, Buffer>();
function cachedSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}/${region}/${service}/${secret}`;
  let key = signingKeys.get(id);
  if (!key) {
    if (signingKeys.size >= 1024) signingKeys.clear();
    signingKeys.set(id, (key = signingKey(secret, date, region, service)));
  }
  return key;
}

function constantTimeEqualHex(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'latin1');
  const bb = Buffer.from(b, 'latin1');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

// ------------------------------------------------------------------- dates

const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses `YYYYMMDDTHHMMSSZ` strictly; undefined when malformed or not a real instant. */
export function parseAmzDate(s: string): Date | undefined {
  const m = AMZ_DATE_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || t.getUTCHours() !== h || t.getUTCMinutes() !== mi || t.getUTCSeconds() !== se) return undefined;
  return t;
}

export function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

// ------------------------------------------------------------------ parsing

/** Shortens and de-controls untrusted text before it goes into a message. */
function shown(s: string, max = 64): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

interface Parsed {
  mode: 'header' | 'query';
  accessKeyId: string;
  scope: { date: string; region: string; service: string; terminator: string };
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  expiresSec?: number;
}

const TOKEN_RE = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** Own property only: a signed header named `constructor` must not reach Object.prototype. */
function rawHeader(req: SignedRequest, name: string): string | string[] | undefined {
  const headers = req.headers;
  if (!headers || !Object.prototype.hasOwnProperty.call(headers, name)) return undefined;
  const v = headers[name];
  if (v === undefined || Array.isArray(v)) return v;
  return String(v);
}

function header(req: SignedRequest, name: string): string | undefined {
  const v = rawHeader(req, name);
  return Array.isArray(v) ? v.join(',') : v;
}

function parseCredential(value: string): Parsed['scope'] & { accessKeyId: string } | Failure {
  const parts = value.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    return deny(`Credential should be of the form '<AccessKeyId>/<yyyymmdd>/<region>/${SERVICE}/aws4_request', not '${shown(value)}'.`);
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  return { accessKeyId, date, region, service, terminator };
}

function parseSignedHeaders(value: string): string[] | Failure {
  const names = value.split(';');
  if (names.some((n) => !TOKEN_RE.test(n))) {
    return deny(`SignedHeaders must be a ';'-separated list of lowercase header names, not '${shown(value)}'.`);
  }
  return names;
}

function parseAuthorizationHeader(req: SignedRequest, authz: string): Parsed | Failure {
  const trimmed = authz.trim();
  const sp = trimmed.search(/\s/);
  const algorithm = sp < 0 ? trimmed : trimmed.slice(0, sp);
  const rest = sp < 0 ? '' : trimmed.slice(sp + 1);
  const params = new Map<string, string>();
  for (const rawPart of rest.split(',')) {
    const part = rawPart.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) {
      const hashed = createHash('sha256').update(authz, 'utf8').digest('base64');
      return deny(`Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '${hashed}'.`);
    }
    const key = part.slice(0, eq).trim();
    if (params.has(key)) return deny(`Authorization header has a duplicate '${shown(key, 32)}' parameter.`);
    params.set(key, part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((k) => !params.get(k));
  const dateHeader = header(req, 'x-amz-date') ?? header(req, 'date');
  if (missing.length > 0 || dateHeader === undefined) {
    const msgs = missing.map((k) => `Authorization header requires '${k}' parameter.`);
    if (dateHeader === undefined) msgs.push(MESSAGES.missingDate);
    return deny(msgs.join(' '));
  }
  if (algorithm !== ALGORITHM) {
    return deny(`Unsupported Authorization algorithm '${shown(algorithm, 32)}'; only ${ALGORITHM} is accepted.`);
  }
  const cred = parseCredential(params.get('Credential')!);
  if ('ok' in cred) return cred;
  const signedHeaders = parseSignedHeaders(params.get('SignedHeaders')!);
  if (!Array.isArray(signedHeaders)) return signedHeaders;

  let amzDate: string;
  const xAmzDate = header(req, 'x-amz-date');
  if (xAmzDate !== undefined) {
    if (!parseAmzDate(xAmzDate)) return deny(`X-Amz-Date '${shown(xAmzDate, 32)}' must be in ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.`);
    amzDate = xAmzDate;
  } else {
    // Only the `Date` header: ISO 8601 basic, or an HTTP date converted to it.
    const d = dateHeader;
    if (parseAmzDate(d)) amzDate = d;
    else {
      const t = Date.parse(d);
      if (!/[A-Za-z]{3}/.test(d) || Number.isNaN(t)) return deny(`Date header '${shown(d, 40)}' is not a valid date.`);
      amzDate = formatAmzDate(new Date(Math.floor(t / 1000) * 1000));
    }
  }
  const { accessKeyId, ...scope } = cred;
  return { mode: 'header', accessKeyId, scope, signedHeaders, signature: params.get('Signature')!, amzDate };
}

function parsePresigned(pairs: ParsedQuery['pairs']): Parsed | Failure {
  const q = new Map<string, string>();
  for (const [k, v] of pairs) {
    if (!PRESIGN_PARAMS.includes(k)) continue;
    if (q.has(k)) return deny(`Query-string parameter '${k}' appears more than once.`);
    q.set(k, v);
  }
  if (PRESIGN_PARAMS.some((k) => !q.get(k))) {
    return deny(`AWS query-string parameters must include ${PRESIGN_PARAMS.map((k) => `'${k}'`).join(', ')}. Re-examine the query-string parameters.`);
  }
  const algorithm = q.get('X-Amz-Algorithm')!;
  if (algorithm !== ALGORITHM) return deny(`X-Amz-Algorithm only supports '${ALGORITHM}', not '${shown(algorithm, 32)}'.`);
  const cred = parseCredential(q.get('X-Amz-Credential')!);
  if ('ok' in cred) return cred;
  const signedHeaders = parseSignedHeaders(q.get('X-Amz-SignedHeaders')!);
  if (!Array.isArray(signedHeaders)) return signedHeaders;
  const amzDate = q.get('X-Amz-Date')!;
  if (!parseAmzDate(amzDate)) return deny(`X-Amz-Date '${shown(amzDate, 32)}' must be in ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.`);
  const expiresRaw = q.get('X-Amz-Expires')!;
  const expiresSec = /^\d{1,7}$/.test(expiresRaw) ? Number(expiresRaw) : NaN;
  if (!(expiresSec >= 1 && expiresSec <= MAX_PRESIGN_SECONDS)) {
    return deny(`X-Amz-Expires must be an integer number of seconds between 1 and ${MAX_PRESIGN_SECONDS}, not '${shown(expiresRaw, 16)}'.`);
  }
  const { accessKeyId, ...scope } = cred;
  return { mode: 'query', accessKeyId, scope, signedHeaders, signature: q.get('X-Amz-Signature')!, amzDate, expiresSec };
}

// ----------------------------------------------------------------- verify

function checkTime(p: Parsed, now: Date, skewMs: number): Failure | undefined {
  const signed = parseAmzDate(p.amzDate)!;
  const nowMs = now.getTime();
  const minutes = (ms: number) => `${Number((ms / 60000).toFixed(2))} min.`;
  if (signed.getTime() > nowMs + skewMs) {
    return deny(`Signature not yet current: ${p.amzDate} is still later than ${formatAmzDate(new Date(nowMs + skewMs))} (${formatAmzDate(now)} + ${minutes(skewMs)})`);
  }
  if (p.mode === 'header' && signed.getTime() < nowMs - skewMs) {
    return deny(`Signature expired: ${p.amzDate} is now earlier than ${formatAmzDate(new Date(nowMs - skewMs))} (${formatAmzDate(now)} - ${minutes(skewMs)})`);
  }
  if (p.mode === 'query' && nowMs > signed.getTime() + p.expiresSec! * 1000) {
    return deny(`Signature expired: ${p.amzDate} is now earlier than ${formatAmzDate(new Date(nowMs - p.expiresSec! * 1000))} (${formatAmzDate(now)} - ${p.expiresSec} sec.)`);
  }
  return undefined;
}

/**
 * May the verbatim form be tried for this raw path? Only when the raw path has
 * no `%25`. Argument: a verbatim-form match on request Y reuses a signature
 * over the canonical string C = canonicalUri(X) of some SDK-signed request X,
 * so Y's raw path equals C. C contains `%25` exactly when X's raw path held a
 * `%`; otherwise C is X's normalized path with only the characters X left
 * unescaped now %-escaped, so Y decodes to the same path as X. (Verbatim
 * queries are harmless: a canonical query decodes to the signer's parameters.)
 */
function verbatimAllowed(rawPath: string): boolean {
  return !rawPath.includes('%25');
}

export function verifySigV4(req: SignedRequest, lookup: (accessKeyId: string) => Caller | undefined, opts: VerifyOptions): VerifyResult {
  try {
    return verify(req, lookup, opts);
  } catch {
    // Defensive: nothing above should throw, but hostile input must never become a 500.
    return deny(MESSAGES.signatureMismatch);
  }
}

function verify(req: SignedRequest, lookup: (accessKeyId: string) => Caller | undefined, opts: VerifyOptions): VerifyResult {
  const service = opts.service ?? SERVICE;
  const now = opts.now ?? new Date();
  const skewMs = opts.maxSkewMs ?? DEFAULT_SKEW_MS;
  const rawPath = typeof req.path === 'string' ? req.path : '';
  const query = typeof req.query === 'string' ? parseQuery(req.query) : req.query && typeof req.query.raw === 'string' && Array.isArray(req.query.pairs) ? req.query : parseQuery('');
  const rawQuery = query.raw;
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);

  const authz = header(req, 'authorization');
  const presigned = isPresignedQuery(query.pairs.map(([k]) => k));
  if (authz !== undefined && presigned) return deny(MESSAGES.twoMechanisms);
  if (authz === undefined && !presigned) return deny(MESSAGES.missingToken);

  const parsed = authz !== undefined ? parseAuthorizationHeader(req, authz) : parsePresigned(query.pairs);
  if ('ok' in parsed) return parsed;

  const { scope } = parsed;
  if (scope.terminator !== 'aws4_request') return deny(`Credential should be scoped with a valid terminator: 'aws4_request', not '${shown(scope.terminator, 32)}'. `);
  if (scope.service !== service) return deny(`Credential should be scoped to correct service: '${service}'. `);
  if (scope.region !== opts.region) return deny(`Credential should be scoped to a valid region, not '${shown(scope.region, 32)}'. `);
  if (scope.date !== parsed.amzDate.slice(0, 8)) {
    return deny(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shown(scope.date, 16)}' != '${parsed.amzDate.slice(0, 8)}', from '${parsed.amzDate}'.`);
  }
  if (!parsed.signedHeaders.includes('host')) return deny("'host' must be a signed header.");

  const timeFailure = checkTime(parsed, now, skewMs);
  if (timeFailure) return timeFailure;

  let caller: Caller | undefined;
  try {
    caller = lookup(parsed.accessKeyId);
  } catch {
    caller = undefined;
  }
  if (!caller || typeof caller.secretAccessKey !== 'string') return deny(MESSAGES.invalidToken);

  const bodyHash = body.length === 0 ? EMPTY_SHA256 : sha256Hex(body);
  const contentSha = header(req, 'x-amz-content-sha256');
  if (contentSha !== undefined) {
    if (contentSha === 'UNSIGNED-PAYLOAD' || contentSha.startsWith('STREAMING-')) {
      return deny(`x-amz-content-sha256 '${shown(contentSha, 48)}' is not supported by ${service}; sign the payload hash.`);
    }
    if (contentSha !== bodyHash) return deny("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  const headerLines: string[] = [];
  for (const name of parsed.signedHeaders) {
    const v = rawHeader(req, name);
    if (v === undefined) return deny(`Signed header '${shown(name, 64)}' is not present in the request.`);
    headerLines.push(`${name}:${canonicalHeaderValue(v)}`);
  }
  const signedHeaderList = parsed.signedHeaders.join(';');
  const method = String(req.method).toUpperCase();
  const tail = `${headerLines.join('\n')}\n\n${signedHeaderList}\n${bodyHash}`;
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const key = cachedSigningKey(caller.secretAccessKey, scope.date, scope.region, scope.service);
  const sign = (canonicalRequest: string) =>
    createHmac('sha256', key).update(`${ALGORITHM}\n${parsed.amzDate}\n${credentialScope}\n${sha256Hex(canonicalRequest)}`, 'utf8').digest('hex');

  const provided = parsed.signature.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(provided)) return deny(MESSAGES.signatureMismatch);

  const canonical = `${method}\n${canonicalUri(rawPath)}\n${canonicalQuery(query, parsed.mode === 'query')}\n${tail}`;
  if (constantTimeEqualHex(sign(canonical), provided)) return { ok: true, caller };

  if (parsed.mode === 'header' && (opts.curlCompat ?? true) && verbatimAllowed(rawPath)) {
    const verbatim = `${method}\n${rawPath === '' ? '/' : rawPath}\n${rawQuery}\n${tail}`;
    if (verbatim !== canonical && constantTimeEqualHex(sign(verbatim), provided)) return { ok: true, caller };
  }
  return deny(MESSAGES.signatureMismatch);
}

// ----------------------------------------------------------- authorization

/** `*` matches any run of characters, `/` included (execute-api ARN resource wildcards). Linear-ish, no regex backtracking. */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * Is `caller` allowed to call `method` on `resourcePath` (the decoded API
 * path without the `/v1/` prefix, e.g. `clouds/prod/zones/dmz/pools/web`)?
 * `allow` patterns: `clouds/prod/*`, or with a method, `GET clouds/prod/*`
 * (`*` as the method means any). No `allow` means allowed everywhere; an
 * empty list allows nothing. `clouds/prod/*` does not match `clouds/prod`
 * itself (as with ARN wildcards); list both if both are meant.
 */
export function isAllowed(caller: Caller, method: string, resourcePath: string): boolean {
  if (caller.allow === undefined) return true;
  const m = method.toUpperCase();
  const path = resourcePath.replace(/^\/+/, '');
  for (const raw of caller.allow) {
    const entry = raw.trim();
    const sp = /^([A-Za-z]+|\*)\s+(\S.*)$/.exec(entry);
    let pattern = entry;
    if (sp) {
      const pm = sp[1]!.toUpperCase();
      if (pm !== '*' && pm !== m) continue;
      pattern = sp[2]!;
    }
    if (globMatch(pattern.replace(/^\/+/, ''), path)) return true;
  }
  return false;
}

/** isAllowed as a VerifyResult, with API Gateway's denial message. */
export function authorize(caller: Caller, method: string, resourcePath: string): VerifyResult {
  return isAllowed(caller, method, resourcePath) ? { ok: true, caller } : deny(MESSAGES.notAuthorized(caller.principal));
}
