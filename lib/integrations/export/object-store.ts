/**
 * Where exports go: an object store with just get and put. S3Store writes to an S3 bucket (or any
 * S3-protocol server), DirStore to a local directory (keys become relative paths).
 * Bodies are streams with a known length, so memory stays flat whatever the object's size.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface PutOptions {
  contentLength: number;
  contentType: string;
}

export interface ObjectStore {
  /** For logs: `s3://bucket` or `file:///dir`. */
  readonly location: string;
  /** The object's bytes, or undefined when there is no such object. */
  getObject(key: string): Promise<Buffer | undefined>;
  /** Writes the object from a stream of exactly `contentLength` bytes. */
  putObject(key: string, body: Readable, opts: PutOptions): Promise<void>;
}

const KEY_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function checkKey(key: string): string {
  if (!KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..')) throw new Error(`not a safe object key: ${JSON.stringify(key)}`);
  return key;
}

export class S3Store implements ObjectStore {
  readonly location: string;
  constructor(
    readonly bucket: string,
    readonly client: S3Client,
  ) {
    this.location = `s3://${bucket}`;
  }

  async getObject(key: string): Promise<Buffer | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: checkKey(key) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return undefined;
      if (err.$metadata?.httpStatusCode === 403) {
        throw new Error(`cannot read s3://${this.bucket}/${key} (access denied): the exporter needs s3:GetObject on it, and s3:ListBucket so that a missing object answers 404 rather than 403`, { cause: e });
      }
      throw e;
    }
  }

  async putObject(key: string, body: Readable, opts: PutOptions): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: checkKey(key), Body: body, ContentLength: opts.contentLength, ContentType: opts.contentType }));
  }
}

/**
 * An S3 client for an S3-protocol server other than AWS (s3rver, MinIO, LocalStack): path-style
 * addressing, and checksums only when required (such servers often reject aws-chunked uploads).
 */
export function s3ClientFor(opts: { endpoint?: string; region?: string; accessKeyId?: string; secretAccessKey?: string } = {}): S3Client {
  const cfg: S3ClientConfig = { region: opts.region ?? 'us-east-1' };
  if (opts.endpoint) {
    Object.assign(cfg, { endpoint: opts.endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    if (opts.accessKeyId && opts.secretAccessKey) cfg.credentials = { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey };
  }
  return new S3Client(cfg);
}

/** Objects as files under a directory; each put lands atomically (temp file, then rename). */
export class DirStore implements ObjectStore {
  readonly location: string;
  constructor(readonly dir: string) {
    this.dir = path.resolve(dir);
    this.location = `file://${this.dir}`;
  }

  pathOf(key: string): string {
    return path.join(this.dir, ...checkKey(key).split('/'));
  }

  async getObject(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async putObject(key: string, body: Readable, opts: PutOptions): Promise<void> {
    const file = this.pathOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      let n = 0;
      body.on('data', (c: Buffer) => (n += c.length));
      await pipeline(body, createWriteStream(tmp, { mode: 0o644 }));
      if (n !== opts.contentLength) throw new Error(`${key}: wrote ${n} bytes, expected ${opts.contentLength}`);
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
}
