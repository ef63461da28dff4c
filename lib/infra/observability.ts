/**
 * Alarms of the stack and the optional SNS topic they notify. docs/operations.md says what to do when
 * each one fires; keep the alarm ids and that document in step.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { IpamApi } from './api.js';

export interface IpamAlarmsProps {
  readonly api: IpamApi;
  /** Functions whose Errors are alarmed, by a short name used in alarm ids. */
  readonly functions: Record<string, lambda.IFunction>;
  /** The DynamoDB stream consumer (IteratorAge alarm). */
  readonly streamFunction: lambda.IFunction;
  /** Alarms created elsewhere that should notify the same topic (e.g. the dead-letter queue alarm). */
  readonly extraAlarms?: cloudwatch.Alarm[];
  /** Subscribe this address to a new alarm topic. Unset: no topic. */
  readonly alarmEmail?: string;
  /** 4XX responses per 5 minutes above which the client error alarm fires. Default 100. */
  readonly clientErrorThreshold?: number;
  /** Stream iterator age (ms) above which the stream lag alarm fires. Default 5 minutes. */
  readonly iteratorAgeThresholdMs?: number;
}

export class IpamAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.Topic;

  constructor(scope: Construct, id: string, props: IpamAlarmsProps) {
    super(scope, id);

    const add = (alarmId: string, alarmProps: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const alarm = new cloudwatch.Alarm(this, alarmId, alarmProps);
      this.alarms.push(alarm);
      return alarm;
    };
    const anchor = (section: string) => `See docs/operations.md#${section}.`;

    add('ApiServerErrors', {
      alarmDescription: `IPAM API: 5XX responses (integration or function failures). ${anchor('api-5xx')}`,
      metric: props.api.metricServerErrors(),
      threshold: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // API Gateway has no throttle metric of its own: throttled requests are 429s, counted in 4XXError
    // together with 403 (denied by IAM or the resource policy) and 400 (validation).
    add('ApiClientErrors', {
      alarmDescription: `IPAM API: many 4XX responses (throttling 429, denied 403, invalid 400). ${anchor('api-4xx-and-throttling')}`,
      metric: props.api.metricClientErrors(),
      threshold: props.clientErrorThreshold ?? 100,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    for (const [name, fn] of Object.entries(props.functions)) {
      add(`${name}FunctionErrors`, {
        alarmDescription: `IPAM ${name} function: invocation errors. ${anchor('function-errors')}`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      add(`${name}FunctionThrottles`, {
        alarmDescription: `IPAM ${name} function: throttled invocations (concurrency limit). ${anchor('function-throttles')}`,
        metric: fn.metricThrottles({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    add('StreamIteratorAge', {
      alarmDescription: `IPAM security events: the DynamoDB stream consumer is falling behind. ${anchor('stream-iterator-age')}`,
      metric: props.streamFunction.metric('IteratorAge', { period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: props.iteratorAgeThresholdMs ?? 5 * 60 * 1000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    if (props.alarmEmail) {
      // SNS server-side encryption with a customer managed key: CloudWatch cannot publish to a topic
      // encrypted with the AWS managed aws/sns key, so the key policy admits the CloudWatch service.
      const key = new kms.Key(this, 'TopicKey', {
        description: 'Encrypts the IPAM alarm topic',
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.DESTROY,
        pendingWindow: Duration.days(7),
      });
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchAlarmsToPublish',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
        }),
      );
      this.topic = new sns.Topic(this, 'Topic', {
        displayName: 'IPAM alarms',
        masterKey: key,
        enforceSSL: true,
      });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      const action = new actions.SnsAction(this.topic);
      for (const alarm of [...this.alarms, ...(props.extraAlarms ?? [])]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }
}
