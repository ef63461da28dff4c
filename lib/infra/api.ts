/**
 * The REST API: `/v1` and `/v1/{proxy+}` proxied to the api function, SigV4 (AWS_IAM) on every method,
 * a resource policy that admits only trusted principals (and, for a PRIVATE API, only through the given
 * VPC endpoints), JSON access logs, stage throttling and X-Ray tracing.
 */
import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { roleGrants, type RoleName, type RouteGrant } from '../auth/roles.js';

/** The version prefix every route lives under. */
export const API_PREFIX = 'v1';

const ACCOUNT_ID = /^\d{12}$/;
/** A path segment used in a grant: unreserved URL characters only, so it cannot widen the ARN. */
const PATH_SEGMENT = /^[A-Za-z0-9._~-]{1,128}$/;
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '*']);

export interface IpamApiProps {
  /** The function every request is proxied to. */
  readonly handler: lambda.IFunction;
  /**
   * Account ids (12 digits) or IAM principal ARNs (roles, users; `*` wildcards allowed in ARNs) that may
   * invoke the API. Empty: the deploying account. Callers always also need an identity policy allowing
   * execute-api:Invoke (see grantInvoke): the resource policy only delegates to their account's IAM.
   */
  readonly trustedPrincipals?: string[];
  /** Interface VPC endpoint ids. Non-empty: PRIVATE endpoint, reachable only through these endpoints. */
  readonly vpcEndpointIds?: string[];
  /** Default `prod`. */
  readonly stageName?: string;
  /** Requests per second, steady state. Default 50. */
  readonly throttlingRateLimit?: number;
  /** Burst size. Default 100. */
  readonly throttlingBurstLimit?: number;
  /** Retention of the access log group. Default three months. */
  readonly accessLogRetention?: logs.RetentionDays;
  /** Let this stack set the account's API Gateway CloudWatch Logs role. Default true. */
  readonly cloudWatchRole?: boolean;
}

export interface GrantInvokeOptions {
  /** Limit the grant to one cloud: `/v1/clouds/{cloud}` and below. */
  readonly cloud?: string;
  /** Limit the grant to one zone of `cloud`: `/v1/clouds/{cloud}/zones/{zone}` and below. Requires `cloud`. */
  readonly zone?: string;
  /** HTTP methods, e.g. ['GET', 'POST']. Default: all methods. */
  readonly methods?: string[];
}

export class IpamApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly accessLogGroup: logs.LogGroup;
  readonly requestValidator: apigateway.RequestValidator;
  /** The API's methods (ANY on /v1 and on /v1/{proxy+}). */
  readonly methods: apigateway.Method[];
  readonly isPrivate: boolean;

  constructor(scope: Construct, id: string, props: IpamApiProps) {
    super(scope, id);
    const trusted = props.trustedPrincipals?.length ? props.trustedPrincipals : [Aws.ACCOUNT_ID];
    const vpcEndpointIds = props.vpcEndpointIds ?? [];
    this.isPrivate = vpcEndpointIds.length > 0;

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const cloudWatchRole = props.cloudWatchRole ?? true;
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `${Stack.of(this).stackName}-ipam`,
      description: 'IP address manager (IAM / SigV4 authenticated)',
      endpointConfiguration: this.isPrivate
        ? {
            types: [apigateway.EndpointType.PRIVATE],
            vpcEndpoints: vpcEndpointIds.map((vpceId) =>
              ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(this, `Vpce-${vpceId}`, {
                vpcEndpointId: vpceId,
                port: 443,
              }),
            ),
          }
        : { types: [apigateway.EndpointType.REGIONAL] },
      policy: IpamApi.resourcePolicy(trusted, vpcEndpointIds),
      cloudWatchRole,
      cloudWatchRoleRemovalPolicy: cloudWatchRole ? RemovalPolicy.RETAIN : undefined,
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: IpamApi.accessLogFormat(),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
      },
    });

    // Bodies are validated in the function with the zod schemas (single source of truth, no API Gateway
    // models duplicating them), so no request model is attached and API Gateway skips body validation.
    // Parameter validation is real: the {proxy+} path parameter is required.
    this.requestValidator = this.api.addRequestValidator('RequestValidator', {
      requestValidatorName: 'params-and-body',
      validateRequestParameters: true,
      validateRequestBody: true,
    });

    const integration = new apigateway.LambdaIntegration(props.handler, { proxy: true, allowTestInvoke: false });
    const iamAuth: apigateway.MethodOptions = {
      authorizationType: apigateway.AuthorizationType.IAM,
      requestValidator: this.requestValidator,
    };
    const v1 = this.api.root.addResource(API_PREFIX);
    const proxy = v1.addResource('{proxy+}');
    this.methods = [
      v1.addMethod('ANY', integration, iamAuth),
      proxy.addMethod('ANY', integration, {
        ...iamAuth,
        requestParameters: { 'method.request.path.proxy': true },
      }),
    ];

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'Callers are AWS principals (pipelines, roles), not end users: every method uses AWS_IAM (SigV4) ' +
        'authorization plus a resource policy restricted to trusted principals, so a Cognito user pool ' +
        'authorizer does not apply.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'Every request must be SigV4-signed by a trusted principal (resource policy, optional VPC endpoint ' +
        'restriction) and the stage is throttled; an unauthenticated caller never reaches the integration. ' +
        'A WAF web ACL can be associated by the operator if the API is exposed beyond trusted pipelines.',
    });
    if (cloudWatchRole) {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level API Gateway CloudWatch Logs role, required for access and execution logging, ' +
          'uses the AWS managed service policy that API Gateway documents for it; it grants log writes only.',
      });
    }
  }

  /**
   * The resource policy. Allow names only account root principals (the trusted accounts and the accounts
   * of the trusted ARNs): that delegates to IAM, so every caller, even one listed by ARN, also needs an
   * identity policy allowing execute-api:Invoke on the path (grantInvoke), which is what makes path-scoped
   * grants effective. Listing a role ARN as principal would instead grant it the whole API by itself.
   * The Deny then turns away every principal that is neither in a trusted account nor a trusted ARN, and,
   * for a private endpoint, every request that does not come through one of the VPC endpoints.
   */
  static resourcePolicy(trustedPrincipals: string[], vpcEndpointIds: string[]): iam.PolicyDocument {
    const accounts = trustedPrincipals.filter((p) => ACCOUNT_ID.test(p) || p === Aws.ACCOUNT_ID);
    const arns = trustedPrincipals.filter((p) => !accounts.includes(p));
    const arnAccounts = arns.map((arn) => arn.split(':')[4]!);
    const allowedAccounts = [...new Set([...accounts, ...arnAccounts])];
    const invoke = ['execute-api:Invoke'];
    const everything = ['execute-api:/*'];
    const notTrusted: Record<string, Record<string, string[]>> = {};
    if (accounts.length) notTrusted.StringNotEquals = { 'aws:PrincipalAccount': accounts };
    if (arns.length) notTrusted.ArnNotLike = { 'aws:PrincipalArn': arns };

    const statements = [
      new iam.PolicyStatement({
        sid: 'AllowTrustedAccounts',
        effect: iam.Effect.ALLOW,
        principals: allowedAccounts.map((a) => new iam.AccountPrincipal(a)),
        actions: invoke,
        resources: everything,
      }),
      // Conditions are ANDed: deny when neither the principal's account nor its ARN is trusted.
      new iam.PolicyStatement({
        sid: 'DenyUntrustedPrincipals',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: invoke,
        resources: everything,
        conditions: notTrusted,
      }),
    ];
    if (vpcEndpointIds.length) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'DenyOutsideVpcEndpoints',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: invoke,
          resources: everything,
          conditions: { StringNotEquals: { 'aws:SourceVpce': vpcEndpointIds } },
        }),
      );
    }
    return new iam.PolicyDocument({ statements });
  }

  /**
   * One JSON object per request. Unlike jsonWithStandardFields it records who called (the SigV4
   * principal's ARN and account), through which VPC endpoint, and why a request failed.
   */
  static accessLogFormat(): apigateway.AccessLogFormat {
    const F = apigateway.AccessLogField;
    return apigateway.AccessLogFormat.custom(
      JSON.stringify({
        requestId: F.contextRequestId(),
        extendedRequestId: F.contextExtendedRequestId(),
        requestTime: F.contextRequestTime(),
        httpMethod: F.contextHttpMethod(),
        path: F.contextPath(),
        resourcePath: F.contextResourcePath(),
        status: F.contextStatus(),
        protocol: F.contextProtocol(),
        responseLength: F.contextResponseLength(),
        responseLatency: F.contextResponseLatency(),
        integrationLatency: F.contextIntegrationLatency(),
        integrationStatus: F.contextIntegrationStatus(),
        sourceIp: F.contextIdentitySourceIp(),
        userAgent: F.contextIdentityUserAgent(),
        userArn: F.contextIdentityUserArn(),
        caller: F.contextIdentityCaller(),
        accountId: F.contextIdentityAccountId(),
        vpceId: '$context.identity.vpceId',
        errorMessage: F.contextErrorMessage(),
        errorType: F.contextErrorResponseType(),
        xrayTraceId: F.contextXrayTraceId(),
      }),
    );
  }

  /** The stage requests are served from. */
  get stageName(): string {
    return this.api.deploymentStage.stageName;
  }

  get url(): string {
    return this.api.url;
  }

  /**
   * The execute-api ARNs a grant covers, e.g. for `{ cloud: 'aws', zone: 'prod-a', methods: ['POST'] }`:
   * `arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/POST/v1/clouds/aws/zones/prod-a` and the same ARN
   * followed by `/*` (everything below the zone).
   */
  invokeArns(opts: GrantInvokeOptions = {}): string[] {
    const { cloud, zone } = opts;
    if (zone !== undefined && cloud === undefined) {
      throw new Error('grantInvoke: a zone grant needs its cloud ({ cloud, zone })');
    }
    for (const [name, value] of [['cloud', cloud], ['zone', zone]] as const) {
      if (value !== undefined && !PATH_SEGMENT.test(value)) {
        throw new Error(`grantInvoke: ${name} ${JSON.stringify(value)} is not a plain path segment ([A-Za-z0-9._~-])`);
      }
    }
    const methods = [...new Set((opts.methods?.length ? opts.methods : ['*']).map((m) => m.toUpperCase()))];
    for (const m of methods) {
      if (!HTTP_METHODS.has(m)) throw new Error(`grantInvoke: unknown HTTP method ${m}`);
    }
    let base = `/${API_PREFIX}`;
    if (cloud !== undefined) base += `/clouds/${cloud}`;
    if (zone !== undefined) base += `/zones/${zone}`;
    return methods.flatMap((method) =>
      [base, `${base}/*`].map((path) => this.api.arnForExecuteApi(method, path, this.stageName)),
    );
  }

  /**
   * Grants execute-api:Invoke on the API, scoped by path: the whole `/v1` tree, one cloud, or one zone
   * of one cloud, optionally only for some HTTP methods. A pipeline role that should allocate in one
   * zone only gets `grantInvoke(role, { cloud, zone, methods: ['GET', 'POST'] })`.
   *
   * The grantee must also be admitted by the resource policy (`trustedPrincipals`: its account or ARN).
   */
  grantInvoke(grantee: iam.IGrantable, opts: GrantInvokeOptions = {}): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: this.invokeArns(opts),
    });
  }

  /** The execute-api ARNs of route grants (lib/auth/roles.ts): one ARN per method and path pattern. */
  grantArns(grants: RouteGrant[]): string[] {
    return grants.map((g) => this.api.arnForExecuteApi(g.method, `/${API_PREFIX}/${g.path}`, this.stageName));
  }

  /**
   * Grants a role of docs/operations.md: `zonePipeline` (the allocation lifecycle of one zone, exactly the
   * routes lib/auth/roles.ts lists) or `networkAdmin` (pools, and cloud-wide the zone limits). The local
   * callers file's `allow` entries come from the same description (`allowPatterns(roleGrants(...))`).
   */
  grantRole(grantee: iam.IGrantable, role: RoleName, cloud: string, zone?: string): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns: this.grantArns(roleGrants(role, cloud, zone)) });
  }

  metricServerErrors(period = Duration.minutes(5)): cloudwatch.Metric {
    return this.api.metricServerError({ period, statistic: cloudwatch.Stats.SUM });
  }

  metricClientErrors(period = Duration.minutes(5)): cloudwatch.Metric {
    return this.api.metricClientError({ period, statistic: cloudwatch.Stats.SUM });
  }
}
