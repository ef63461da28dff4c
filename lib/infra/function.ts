/**
 * One Lambda function of the product, built the same way for all three entries in functions/:
 * Node.js 22 on ARM, ESM bundle with source maps, X-Ray tracing, an explicit log group with retention
 * and a dedicated role that starts empty (no AWS managed policy) and only gets what the stack grants.
 */
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root (this file is lib/infra/function.ts). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute path of an entry file under functions/. */
export function functionEntry(name: string): string {
  return fileURLToPath(new URL(`../../functions/${name}.ts`, import.meta.url));
}

/** esbuild banner: ESM bundles have no `require`, but bundled CommonJS dependencies call it. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

export interface IpamFunctionProps {
  /** File name under functions/, without extension: 'api', 'security-events' or 'zone-export'. */
  readonly entryName: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  readonly timeout?: Duration;
  readonly memorySize?: number;
  /**
   * The log group the function writes to. Default: a new log group with `logRetention`, destroyed with
   * the stack. The security-events function passes the KMS-encrypted security log group here.
   */
  readonly logGroup?: logs.ILogGroup;
  /** Retention of the log group created when `logGroup` is not given. */
  readonly logRetention?: logs.RetentionDays;
  /** Lambda platform (START/END/REPORT) log level. Default INFO. */
  readonly systemLogLevel?: lambda.SystemLogLevel;
}

export class IpamFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: IpamFunctionProps) {
    super(scope, id);

    this.logGroup =
      props.logGroup ??
      new logs.LogGroup(this, 'LogGroup', {
        retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        removalPolicy: RemovalPolicy.DESTROY,
      });

    // A role of our own instead of the default one, which would carry the AWS managed policy
    // AWSLambdaBasicExecutionRole (logs:CreateLogGroup/CreateLogStream/PutLogEvents on every log group).
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the IPAM ${props.entryName} function`,
    });
    // Write access to its own log group only (logs:CreateLogStream, logs:PutLogEvents).
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: functionEntry(props.entryName),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(29),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: props.systemLogLevel ?? lambda.SystemLogLevel.INFO,
      tracing: lambda.Tracing.ACTIVE,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: fileURLToPath(new URL('../../package-lock.json', import.meta.url)),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'ipam',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
      },
    });

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The product targets Node.js 22 (package.json engines, esbuild target node22, the local service and ' +
        'CI run on it): runtime upgrades are deliberate and tested, not automatic. NODEJS_24_X is newer.',
    });

    // X-Ray tracing (Tracing.ACTIVE) adds xray:PutTraceSegments and xray:PutTelemetryRecords on "*".
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level ' +
        'permissions, so AWS requires Resource "*" for them. They are the only actions on "*" in this role; ' +
        'every other statement names its table, index, stream, queue, bucket prefix or log group.',
    });
  }
}
