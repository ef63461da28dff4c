/**
 * DNS zone exports: an EventBridge schedule runs functions/zone-export.ts, which reads the table and
 * writes zone files under `dns/` in a hardened, versioned S3 bucket.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { IpamFunction } from './function.js';
import type { IpamTable } from './table.js';

/** Key prefix the export function may write. */
export const EXPORT_PREFIX = 'dns/';

export interface ZoneExportsProps {
  readonly table: IpamTable;
  /** EventBridge schedule expression, e.g. `rate(15 minutes)`. */
  readonly schedule: string;
  readonly logRetention: logs.RetentionDays;
  readonly environment?: Record<string, string>;
  /** Days a replaced or deleted zone file version is kept. Default 90. */
  readonly noncurrentVersionDays?: number;
}

export class ZoneExports extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly handler: IpamFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ZoneExportsProps) {
    super(scope, id);

    // Server access logs of the export bucket. S3 log delivery only supports SSE-S3 target buckets.
    // (cdk-nag's S1 treats a bucket that is itself a server access log target as compliant.)
    // Both buckets: private, SSE-S3, TLS 1.2+ only, owner-enforced, versioned.
    const hardened = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
    } satisfies s3.BucketProps;
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      ...hardened,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Zone files are DNS data that resolvers publish anyway; SSE-S3 avoids granting the writer KMS use.
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...hardened,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'zone-exports/',
      lifecycleRules: [
        {
          id: 'noncurrent-zone-files',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 90),
          noncurrentVersionsToRetain: 10,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.handler = new IpamFunction(this, 'Handler', {
      entryName: 'zone-export',
      description: 'IPAM: writes DNS zone files of all zones to the export bucket',
      logRetention: props.logRetention,
      timeout: Duration.minutes(5),
      memorySize: 512,
      environment: {
        IPAM_EXPORT_BUCKET: this.bucket.bucketName,
        ...props.environment,
      },
    });

    props.table.grantExportRead(this.handler.role);
    // Only PutObject, and only under dns/ (no delete, no ACLs, no reads of other prefixes).
    const exportObjects = this.bucket.arnForObjects(`${EXPORT_PREFIX}*`);
    this.handler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [exportObjects] }),
    );
    // It reads back its own manifest (to rewrite only changed zones); ListBucket on exactly that key
    // makes a missing manifest answer 404 rather than 403 on the first run.
    this.handler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${EXPORT_PREFIX}manifest.json`)] }),
    );
    this.handler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringEquals: { 's3:prefix': `${EXPORT_PREFIX}manifest.json` } } }),
    );
    Validations.of(this.handler.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.bucketLogicalIdForNag()}.Arn>/${EXPORT_PREFIX}*]`,
      reason:
        'The export function writes one object per zone, named by zone, so the key is only known at run ' +
        'time: s3:PutObject is limited to the dns/ prefix of the export bucket.',
    });

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'IPAM: periodic DNS zone export',
      schedule: events.Schedule.expression(props.schedule),
      targets: [
        new targets.LambdaFunction(this.handler.function, {
          retryAttempts: 2,
          maxEventAge: Duration.minutes(10),
        }),
      ],
    });
  }

  /** The bucket's logical id as cdk-nag writes it in IAM5 finding ids (`<LogicalId.Arn>`). */
  private bucketLogicalIdForNag(): string {
    const cfn = this.bucket.node.defaultChild as s3.CfnBucket;
    return cfn.stack.getLogicalId(cfn);
  }
}
