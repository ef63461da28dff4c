/**
 * Security events: every change to the table (DynamoDB Streams, new and old images) is turned into a
 * JSON security event by functions/security-events.ts and written to a dedicated, KMS-encrypted,
 * retained CloudWatch log group.
 *
 * Design choice: the function's own log group IS the security log group. The function logs each event
 * to stdout with Powertools Logger and Lambda delivers stdout to its log group, so no
 * logs:PutLogEvents call, sequence token or extra client is needed, and nothing can write events
 * "around" the function. Lambda's platform lines are kept out of it (system log level WARN).
 * IPAM_SECURITY_LOG_GROUP carries the group's name for the function's own reference.
 */
import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { IpamFunction } from './function.js';

export interface SecurityLogProps {
  readonly retention: logs.RetentionDays;
  /** Log group name. Default `/ipam/<stack name>/security-events`. */
  readonly logGroupName?: string;
}

/** The security log group and its customer managed KMS key (rotated, retained). */
export class SecurityLog extends Construct {
  readonly key: kms.Key;
  readonly logGroup: logs.LogGroup;
  readonly logGroupName: string;

  constructor(scope: Construct, id: string, props: SecurityLogProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.logGroupName = props.logGroupName ?? `/ipam/${stack.stackName}/security-events`;

    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the IPAM security event log group ${this.logGroupName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch Logs of this Region may use the key, and only for this one log group.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogsForTheSecurityLogGroup',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncryptFrom',
          'kms:ReEncryptTo',
          'kms:GenerateDataKey',
          'kms:GenerateDataKeyWithoutPlaintext',
          'kms:DescribeKey',
        ],
        resources: ['*'],
        conditions: {
          ArnEquals: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:${this.logGroupName}`,
          },
        },
      }),
    );

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: this.logGroupName,
      retention: props.retention,
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The key policy must exist before CloudWatch Logs associates the key with the group.
    this.logGroup.node.addDependency(this.key);
  }
}

export interface SecurityEventsProps {
  readonly table: dynamodb.ITableV2;
  readonly securityLog: SecurityLog;
  readonly environment?: Record<string, string>;
  /** Whether the event source mapping polls the stream. Default true. */
  readonly enabled?: boolean;
}

/** The stream consumer: function, event source mapping, on-failure queue and its alarm. */
export class SecurityEvents extends Construct {
  readonly handler: IpamFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly eventSource: DynamoEventSource;

  constructor(scope: Construct, id: string, props: SecurityEventsProps) {
    super(scope, id);

    // Holds the metadata (shard, sequence numbers) of stream batches that failed after all retries,
    // so they can be re-read from the stream (24 h) or the table's PITR and replayed.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination (on-failure destination of the DynamoDB stream ' +
        'event source mapping); nothing consumes it automatically, so it needs no DLQ of its own. Its depth ' +
        'is alarmed (DeadLetterAlarm).',
    });

    this.handler = new IpamFunction(this, 'Handler', {
      entryName: 'security-events',
      description: 'IPAM: turns DynamoDB stream records into security events in the security log group',
      logGroup: props.securityLog.logGroup,
      // Only the events themselves (and Lambda warnings/errors) in the security log.
      systemLogLevel: lambda.SystemLogLevel.WARN,
      timeout: Duration.seconds(60),
      memorySize: 256,
      environment: {
        IPAM_SECURITY_LOG_GROUP: props.securityLog.logGroupName,
        ...props.environment,
      },
    });

    this.eventSource = new DynamoEventSource(props.table, {
      enabled: props.enabled ?? true,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: 10,
      maxRecordAge: Duration.hours(24),
      parallelizationFactor: 1,
      onFailure: new SqsDlq(this.deadLetterQueue),
    });
    this.handler.function.addEventSource(this.eventSource);

    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription:
        'IPAM security events: stream records could not be turned into security events and were sent to the ' +
        'dead-letter queue. See docs/operations.md#security-events-dead-letter-queue.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
