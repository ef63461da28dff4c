/**
 * The IPAM stack: API Gateway (IAM auth) -> api function -> DynamoDB table; DynamoDB Streams ->
 * security-events function -> KMS-encrypted security log group; EventBridge schedule -> zone-export
 * function -> S3 bucket. Configuration comes from props, else from CDK context (see config.ts).
 */
import { CfnOutput, Stack, Token, type StackProps } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { IpamApi, type GrantInvokeOptions } from './api.js';
import type { RoleName } from '../auth/roles.js';
import { configFromContext, dnsEnvironment, resolveConfig, type IpamConfig } from './config.js';
import { ZoneExports } from './exports.js';
import { IpamFunction } from './function.js';
import { IpamAlarms } from './observability.js';
import { SecurityEvents, SecurityLog } from './security-events.js';
import { IpamTable } from './table.js';

const S3_ACCESS_LOGS_BUCKET_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

export interface IpamStackProps extends StackProps {
  /**
   * Configuration. Any field left out is read from CDK context (`ipam:*` keys), then defaulted.
   */
  readonly config?: Partial<IpamConfig>;
}

export class IpamStack extends Stack {
  readonly config: IpamConfig;
  readonly table: IpamTable;
  readonly apiFunction: IpamFunction;
  readonly api: IpamApi;
  readonly securityLog: SecurityLog;
  readonly securityEvents: SecurityEvents;
  readonly exports: ZoneExports;
  readonly alarms: IpamAlarms;

  constructor(scope: Construct, id: string, props: IpamStackProps = {}) {
    super(scope, id, {
      description: 'Serverless IP address manager: API Gateway (IAM), Lambda, DynamoDB, security events, DNS zone exports',
      ...props,
    });
    // Server access logs are delivered under a bucket policy (logging.s3.amazonaws.com) instead of the
    // legacy LogDeliveryWrite ACL, which would contradict BucketOwnerEnforced object ownership.
    if (this.node.tryGetContext(S3_ACCESS_LOGS_BUCKET_POLICY) === undefined) {
      this.node.setContext(S3_ACCESS_LOGS_BUCKET_POLICY, true);
    }
    const fromContext = configFromContext(this.node);
    this.config = props.config ? resolveConfig({ ...fromContext, ...props.config }) : fromContext;
    const cfg = this.config;

    if (cfg.replicaRegions.length > 0) {
      if (Token.isUnresolved(this.region)) {
        throw new Error(
          'ipam:replicaRegions needs a concrete stack region: set CDK_DEFAULT_REGION / AWS_REGION (or the ' +
            'stack env) so the replicas can be placed relative to it.',
        );
      }
      if (cfg.replicaRegions.includes(this.region)) {
        throw new Error(`ipam:replicaRegions must not contain the stack's own region ${this.region}`);
      }
    }

    this.table = new IpamTable(this, 'Table', {
      replicaRegions: cfg.replicaRegions,
      existing:
        cfg.existingTableName && cfg.existingTableStreamArn
          ? { tableName: cfg.existingTableName, tableStreamArn: cfg.existingTableStreamArn }
          : undefined,
    });
    const tableEnv = { IPAM_TABLE: this.table.tableName };
    // The deployment's default DNS settings (ipam:dns* context keys): the API answers the zones with them
    // and the zone export writes them, for clouds without settings of their own.
    const dnsEnv = dnsEnvironment(cfg);

    this.apiFunction = new IpamFunction(this, 'ApiFunction', {
      entryName: 'api',
      description: 'IPAM: REST API handler (API Gateway proxy)',
      logRetention: cfg.logRetentionDays,
      environment: { ...tableEnv, ...dnsEnv },
    });
    this.table.grantApiAccess(this.apiFunction.role);

    this.api = new IpamApi(this, 'Api', {
      handler: this.apiFunction.function,
      trustedPrincipals: cfg.trustedPrincipals,
      vpcEndpointIds: cfg.vpcEndpointIds,
      stageName: cfg.apiStageName,
      throttlingRateLimit: cfg.apiThrottleRateLimit,
      throttlingBurstLimit: cfg.apiThrottleBurstLimit,
      accessLogRetention: cfg.logRetentionDays,
      cloudWatchRole: cfg.apiGatewayCloudWatchRole,
    });

    this.securityLog = new SecurityLog(this, 'SecurityLog', { retention: cfg.securityLogRetentionDays });
    this.securityEvents = new SecurityEvents(this, 'SecurityEvents', {
      table: this.table.table,
      securityLog: this.securityLog,
      environment: tableEnv,
      enabled: cfg.securityEventsEnabled,
    });

    this.exports = new ZoneExports(this, 'ZoneExports', {
      table: this.table,
      schedule: cfg.exportSchedule,
      logRetention: cfg.logRetentionDays,
      environment: { ...tableEnv, ...dnsEnv },
    });

    this.alarms = new IpamAlarms(this, 'Alarms', {
      api: this.api,
      functions: {
        Api: this.apiFunction.function,
        SecurityEvents: this.securityEvents.handler.function,
        ZoneExport: this.exports.handler.function,
      },
      streamFunction: this.securityEvents.handler.function,
      extraAlarms: [this.securityEvents.deadLetterAlarm],
      alarmEmail: cfg.alarmEmail,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the API (routes under v1/)' });
    new CfnOutput(this, 'ApiId', { value: this.api.api.restApiId, description: 'REST API id (execute-api ARNs)' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'DynamoDB table' });
    new CfnOutput(this, 'ExportBucketName', { value: this.exports.bucket.bucketName, description: 'DNS zone files (dns/)' });
    new CfnOutput(this, 'SecurityLogGroupName', {
      value: this.securityLog.logGroup.logGroupName,
      description: 'Security event log group (subscribe the SIEM here)',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.securityEvents.deadLetterQueue.queueUrl,
      description: 'Stream batches the security-events function could not process',
    });
    new CfnOutput(this, 'ApiFunctionName', { value: this.apiFunction.function.functionName });
    new CfnOutput(this, 'SecurityEventsFunctionName', { value: this.securityEvents.handler.function.functionName });
    new CfnOutput(this, 'ZoneExportFunctionName', { value: this.exports.handler.function.functionName });
    if (this.alarms.topic) {
      new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'Alarm notifications' });
    }
  }

  /** Grants a role (zone pipeline, network admin); see IpamApi.grantRole. */
  grantRole(grantee: iam.IGrantable, role: RoleName, cloud: string, zone?: string): iam.Grant {
    return this.api.grantRole(grantee, role, cloud, zone);
  }

  /** Grants execute-api:Invoke scoped by path; see IpamApi.grantInvoke. */
  grantInvoke(grantee: iam.IGrantable, opts: GrantInvokeOptions = {}): iam.Grant {
    return this.api.grantInvoke(grantee, opts);
  }
}
