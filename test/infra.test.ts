/**
 * The CDK stack, synthesized in-process with Lambda bundling skipped (context aws:cdk:bundling-stacks: []),
 * asserted on its CloudFormation template, plus the cdk-nag AwsSolutions validation report.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, type Environment } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { routes as apiRoutes } from '../lib/api/lambda.js';
import { allowPatterns, zonePipeline } from '../lib/auth/roles.js';
import { createIpamApp, envFromProcess } from '../lib/infra/app.js';
import { resolveConfig } from '../lib/infra/config.js';
import { dnsConfigFromEnv } from '../lib/integrations/dns/zones.js';
import type { IpamStack } from '../lib/infra/ipam-stack.js';
import { GLOBAL_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from '../lib/dynamo/table.js';

const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const ENV: Environment = { account: '111122223333', region: 'us-east-1' };
const VPCE = 'vpce-0123456789abcdef0';
const PIPELINE_ROLE = 'arn:aws:iam::444455556666:role/ipam-pipeline';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface BuildOptions {
  context?: Record<string, unknown>;
  env?: Environment;
  nag?: boolean;
  /** Runs before synthesis, e.g. to add grants or deliberately non-compliant resources. */
  extend?: (stack: IpamStack) => void;
}

function build(opts: BuildOptions = {}) {
  const outdir = mkdtempSync(join(tmpdir(), 'ipam-cdk-'));
  outdirs.push(outdir);
  const { app, stack } = createIpamApp({
    appProps: {
      outdir,
      context: { ...SKIP_BUNDLING, ...opts.context },
      // CloudFormation schema validation is covered by the nag synths below; skip it elsewhere for speed.
      builtinCloudFormationValidation: false,
    },
    env: opts.env ?? {},
    nag: opts.nag ?? false,
  });
  opts.extend?.(stack);
  return { app, stack, outdir };
}

const templateCache = new Map<string, Template>();
function template(opts: Omit<BuildOptions, 'nag'> = {}): Template {
  const key = JSON.stringify([opts.context ?? {}, opts.env ?? {}]);
  if (opts.extend) return Template.fromStack(build(opts).stack);
  let t = templateCache.get(key);
  if (!t) {
    t = Template.fromStack(build(opts).stack);
    templateCache.set(key, t);
  }
  return t;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string }>;
const resourcesOf = (t: Template, type: string): Resources => t.findResources(type) as Resources;
const only = <T>(record: Record<string, T>): T => {
  const values = Object.values(record);
  expect(values).toHaveLength(1);
  return values[0]!;
};
const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Renders a CloudFormation value (Fn::Join, Ref, Fn::GetAtt) as a string with ${...} placeholders. */
function flatten(value: any): string {
  if (typeof value === 'string') return value;
  if (value?.Ref) return `\${${value.Ref}}`;
  if (value?.['Fn::GetAtt']) return `\${${value['Fn::GetAtt'].join('.')}}`;
  if (value?.['Fn::Join']) return value['Fn::Join'][1].map(flatten).join(value['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** Every policy statement of every AWS::IAM::Policy and every inline policy of AWS::IAM::Role. */
function allIamStatements(t: Template): { owner: string; statement: any }[] {
  const out: { owner: string; statement: any }[] = [];
  for (const [id, r] of Object.entries(resourcesOf(t, 'AWS::IAM::Policy'))) {
    for (const s of r.Properties!.PolicyDocument.Statement) out.push({ owner: id, statement: s });
  }
  for (const [id, r] of Object.entries(resourcesOf(t, 'AWS::IAM::Role'))) {
    for (const p of r.Properties?.Policies ?? []) {
      for (const s of p.PolicyDocument.Statement) out.push({ owner: id, statement: s });
    }
  }
  return out;
}

interface ValidationReport {
  pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

/** Synthesizes with cdk-nag (as bin/app.ts does) and returns the policy validation report. */
function nagReport(opts: Omit<BuildOptions, 'nag'> & { cfnValidation?: boolean } = {}): { report: ValidationReport; error?: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'ipam-nag-'));
  outdirs.push(outdir);
  const { app, stack } = createIpamApp({
    appProps: {
      outdir,
      context: { ...SKIP_BUNDLING, ...opts.context },
      builtinCloudFormationValidation: opts.cfnValidation ?? false,
    },
    env: opts.env ?? {},
    nag: true,
  });
  opts.extend?.(stack);
  let error: string | undefined;
  try {
    app.synth();
  } catch (e) {
    // In-process apps throw when a plugin reports a failure; the report file is written first.
    error = (e as Error).message;
  }
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
  return { report, error };
}

const nagViolations = (report: ValidationReport) =>
  report.pluginReports.flatMap((p) => p.violations.map((v) => ({ plugin: p.pluginName, rule: v.ruleName, paths: v.violatingConstructs.map((c) => c.constructPath) })));

describe('API', () => {
  it('authorizes every method with AWS_IAM (none NONE) and proxies /v1 and /v1/{proxy+} to the api function', () => {
    const t = template();
    const methods = Object.values(resourcesOf(t, 'AWS::ApiGateway::Method'));
    expect(methods.length).toBeGreaterThanOrEqual(2);
    for (const m of methods) {
      expect(m.Properties!.AuthorizationType).toBe('AWS_IAM');
      expect(m.Properties!.Integration.Type).toBe('AWS_PROXY');
    }
    expect(methods.some((m) => m.Properties!.AuthorizationType === 'NONE')).toBe(false);
    const paths = Object.values(resourcesOf(t, 'AWS::ApiGateway::Resource')).map((r) => r.Properties!.PathPart);
    expect(paths.sort()).toEqual(['v1', '{proxy+}'].sort());
    t.hasResourceProperties('AWS::ApiGateway::Method', {
      RequestParameters: { 'method.request.path.proxy': true },
      RequestValidatorId: Match.anyValue(),
    });
    t.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestParameters: true,
      ValidateRequestBody: true,
    });
  });

  it('admits only the deploying account by default (REGIONAL endpoint, no VPC endpoint condition)', () => {
    const t = template();
    const api = only(resourcesOf(t, 'AWS::ApiGateway::RestApi'));
    expect(api.Properties!.EndpointConfiguration).toEqual({ Types: ['REGIONAL'] });
    const statements = api.Properties!.Policy.Statement as any[];
    expect(statements.map((s) => s.Sid)).toEqual(['AllowTrustedAccounts', 'DenyUntrustedPrincipals']);
    const [allow, deny] = statements;
    expect(allow).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: 'execute-api:/*' });
    expect(asArray(allow.Principal.AWS).map(flatten)).toEqual(['arn:${AWS::Partition}:iam::${AWS::AccountId}:root']);
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'execute-api:Invoke', Resource: 'execute-api:/*' });
    expect(deny.Condition).toEqual({ StringNotEquals: { 'aws:PrincipalAccount': [{ Ref: 'AWS::AccountId' }] } });
    expect(JSON.stringify(statements)).not.toContain('aws:SourceVpce');
  });

  it('admits the trusted accounts and role ARNs from context, and denies everyone else', () => {
    const t = template({ context: { 'ipam:trustedPrincipals': ['777788889999', PIPELINE_ROLE] } });
    const statements = only(resourcesOf(t, 'AWS::ApiGateway::RestApi')).Properties!.Policy.Statement as any[];
    // Only account principals are allowed (delegation to IAM), never the role itself: a role named as
    // principal would get the whole API from the resource policy alone, defeating path-scoped grants.
    const allow = statements.find((s) => s.Sid === 'AllowTrustedAccounts');
    expect(asArray(allow.Principal.AWS).map(flatten).sort()).toEqual(
      ['arn:${AWS::Partition}:iam::777788889999:root', 'arn:${AWS::Partition}:iam::444455556666:root'].sort(),
    );
    const deny = statements.find((s) => s.Sid === 'DenyUntrustedPrincipals');
    expect(deny.Condition).toEqual({
      StringNotEquals: { 'aws:PrincipalAccount': ['777788889999'] },
      ArnNotLike: { 'aws:PrincipalArn': [PIPELINE_ROLE] },
    });
    expect(JSON.stringify(statements)).not.toContain('${AWS::AccountId}');

    const rolesOnly = template({ context: { 'ipam:trustedPrincipals': [PIPELINE_ROLE] } });
    const [allowRoles, denyRoles] = only(resourcesOf(rolesOnly, 'AWS::ApiGateway::RestApi')).Properties!.Policy.Statement as any[];
    expect(asArray(allowRoles.Principal.AWS).map(flatten)).toEqual(['arn:${AWS::Partition}:iam::444455556666:root']);
    expect(denyRoles.Condition).toEqual({ ArnNotLike: { 'aws:PrincipalArn': [PIPELINE_ROLE] } });
  });

  it('becomes PRIVATE with an aws:SourceVpce deny when ipam:vpcEndpointIds is set', () => {
    const t = template({ context: { 'ipam:vpcEndpointIds': [VPCE] } });
    const api = only(resourcesOf(t, 'AWS::ApiGateway::RestApi'));
    expect(api.Properties!.EndpointConfiguration).toEqual({ Types: ['PRIVATE'], VpcEndpointIds: [VPCE] });
    const vpceDeny = (api.Properties!.Policy.Statement as any[]).find((s) => s.Sid === 'DenyOutsideVpcEndpoints');
    expect(vpceDeny).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'execute-api:Invoke',
      Resource: 'execute-api:/*',
      Condition: { StringNotEquals: { 'aws:SourceVpce': [VPCE] } },
    });
  });

  it('accepts list context given as a comma-separated string (cdk -c key=a,b)', () => {
    const t = template({ context: { 'ipam:vpcEndpointIds': `${VPCE},vpce-0fedcba9876543210` } });
    expect(only(resourcesOf(t, 'AWS::ApiGateway::RestApi')).Properties!.EndpointConfiguration.VpcEndpointIds).toEqual([
      VPCE,
      'vpce-0fedcba9876543210',
    ]);
  });

  it('logs access as JSON to its own log group, logs errors, traces, and throttles the stage (context-overridable)', () => {
    const t = template();
    const stage = only(resourcesOf(t, 'AWS::ApiGateway::Stage')).Properties!;
    expect(stage.StageName).toBe('prod');
    expect(stage.TracingEnabled).toBe(true);
    expect(stage.AccessLogSetting.DestinationArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ApiAccessLogs/), 'Arn'] });
    const format = JSON.parse(stage.AccessLogSetting.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', userArn: '$context.identity.userArn' });
    expect(stage.MethodSettings).toEqual([
      expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false, ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 }),
    ]);
    const tuned = template({ context: { 'ipam:apiThrottleRateLimit': '20', 'ipam:apiThrottleBurstLimit': 40, 'ipam:apiStageName': 'live' } });
    const tunedStage = only(resourcesOf(tuned, 'AWS::ApiGateway::Stage')).Properties!;
    expect(tunedStage.StageName).toBe('live');
    expect(tunedStage.MethodSettings[0]).toMatchObject({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    // The account-wide API Gateway logging role is ours by default, and can be left to whoever owns it.
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
    template({ context: { 'ipam:apiGatewayCloudWatchRole': false } }).resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  it('grantInvoke scopes execute-api:Invoke to one cloud/zone path and the given methods', () => {
    let stackRef: IpamStack | undefined;
    const t = template({
      extend: (stack) => {
        stackRef = stack;
        const role = new iam.Role(stack, 'PipelineRole', { assumedBy: new iam.AccountPrincipal('444455556666') });
        stack.grantInvoke(role, { cloud: 'aws', zone: 'prod-a', methods: ['get', 'POST'] });
        const reader = new iam.Role(stack, 'ReaderRole', { assumedBy: new iam.AccountPrincipal('444455556666') });
        stack.api.grantInvoke(reader, { cloud: 'aws', methods: ['GET'] });
      },
    });
    const policies = resourcesOf(t, 'AWS::IAM::Policy');
    const statementsOf = (rolePrefix: string) =>
      Object.entries(policies)
        .filter(([id]) => id.startsWith(rolePrefix))
        .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement as any[]);
    const base = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiCD79AAA0}/${ApiDeploymentStageprod95EFE650}';
    const [pipeline] = statementsOf('PipelineRole');
    expect(pipeline.Action).toBe('execute-api:Invoke');
    expect(asArray(pipeline.Resource).map(flatten).sort()).toEqual(
      [
        `${base}/GET/v1/clouds/aws/zones/prod-a`,
        `${base}/GET/v1/clouds/aws/zones/prod-a/*`,
        `${base}/POST/v1/clouds/aws/zones/prod-a`,
        `${base}/POST/v1/clouds/aws/zones/prod-a/*`,
      ].sort(),
    );
    const [reader] = statementsOf('ReaderRole');
    expect(asArray(reader.Resource).map(flatten).sort()).toEqual(
      [`${base}/GET/v1/clouds/aws`, `${base}/GET/v1/clouds/aws/*`].sort(),
    );
    // Anything that could widen the scope is refused.
    const api = stackRef!.api;
    expect(api.invokeArns().map((a) => flatten(Stack.of(api).resolve(a)))).toEqual([`${base}/*/v1`, `${base}/*/v1/*`]);
    expect(() => api.invokeArns({ zone: 'prod-a' })).toThrow(/needs its cloud/);
    expect(() => api.invokeArns({ cloud: 'aws', zone: '*' })).toThrow(/plain path segment/);
    expect(() => api.invokeArns({ cloud: 'aws/zones', zone: 'x' })).toThrow(/plain path segment/);
    expect(() => api.invokeArns({ cloud: 'aws', methods: ['FETCH'] })).toThrow(/unknown HTTP method/);
  });

  it('grantRole: a zone pipeline\'s ARNs cover exactly its zone\'s lifecycle routes; the local allow patterns are the same grants', () => {
    const t = template({
      extend: (stack) => {
        stack.grantRole(new iam.Role(stack, 'ZonePipelineRole', { assumedBy: new iam.AccountPrincipal('444455556666') }), 'zonePipeline', 'aws', 'prod-a');
        stack.grantRole(new iam.Role(stack, 'NetAdminRole', { assumedBy: new iam.AccountPrincipal('444455556666') }), 'networkAdmin', 'aws');
      },
    });
    const base = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiCD79AAA0}/${ApiDeploymentStageprod95EFE650}/';
    const arnsOf = (rolePrefix: string) =>
      Object.entries(resourcesOf(t, 'AWS::IAM::Policy'))
        .filter(([id]) => id.startsWith(rolePrefix))
        .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement as any[])
        .flatMap((st) => asArray(st.Resource).map(flatten))
        .map((arn) => {
          expect(arn.startsWith(base)).toBe(true);
          return arn.slice(base.length);
        });
    // An ARN's `*` matches any run of characters, `/` included (as execute-api does).
    const covers = (arns: string[], method: string, path: string) => arns.some((a) => new RegExp(`^${a.split('*').map((x) => x.replace(/[.?+^$()|[\]{}\\]/g, '\\$&')).join('.*')}$`).test(`${method}${path}`));
    const concrete = (template: string, zone: string) => template.replace(/\{(\w+)\}/g, (_, k) => (k === 'cloud' ? 'aws' : k === 'zone' ? zone : `x-${k}`));
    // The lifecycle, written out here independently of lib/auth/roles.ts.
    const lifecycle = new Set(
      [
        'GET /v1/clouds/{cloud}/zones/{zone}/pools/{pool}',
        'GET /v1/clouds/{cloud}/zones/{zone}/networks/{network}',
        'POST /v1/clouds/{cloud}/zones/{zone}/pools/{pool}/allocations',
        'POST /v1/clouds/{cloud}/zones/{zone}/allocations',
        'GET /v1/clouds/{cloud}/zones/{zone}/pools/{pool}/allocations',
        ...['GET', 'PATCH', 'DELETE'].map((m) => `${m} /v1/clouds/{cloud}/zones/{zone}/addresses/{address}`),
        ...['GET', 'DELETE'].flatMap((m) => [`${m} /v1/clouds/{cloud}/zones/{zone}/vms/{vm}/allocations`, `${m} /v1/clouds/{cloud}/zones/{zone}/vips/{vip}/allocations`]),
        'GET /v1/clouds/{cloud}/zones/{zone}/vms/{vm}/network-config',
        ...['PUT', 'GET', 'DELETE'].map((m) => `${m} /v1/clouds/{cloud}/zones/{zone}/environments/{env}`),
      ],
    );
    const pipeline = arnsOf('ZonePipelineRole');
    const admin = arnsOf('NetAdminRole');
    const topology = (r: { method: string; path: string }) => /\/(pools\/\{pool\}|networks\/\{network\})$/.test(r.path) && r.method !== 'GET';
    for (const r of apiRoutes) {
      const key = `${r.method} ${r.path}`;
      expect(covers(pipeline, r.method, concrete(r.path, 'prod-a')), key).toBe(lifecycle.has(key));
      for (const other of ['prod-b', 'prod-a2', 'prod']) expect(covers(pipeline, r.method, concrete(r.path, other)), `${key} in ${other}`).toBe(false);
      // The network admin changes topology and never allocates.
      if (topology(r)) expect(covers(admin, r.method, concrete(r.path, 'prod-b')), key).toBe(true);
      if (lifecycle.has(key) && r.method !== 'GET') expect(covers(admin, r.method, concrete(r.path, 'prod-b')), key).toBe(false);
    }
    for (const key of lifecycle) expect(apiRoutes.some((r) => `${r.method} ${r.path}` === key), key).toBe(true);
    expect(covers(admin, 'PUT', '/v1/clouds/aws/limits')).toBe(true);
    expect(covers(pipeline, 'PUT', '/v1/clouds/aws/limits')).toBe(false);
    // One source of truth: the local allow entries are the ARNs' method and path.
    expect(allowPatterns(zonePipeline('aws', 'prod-a')).map((p) => p.replace(' ', '/v1/')).sort()).toEqual([...pipeline].sort());
    expect(() => zonePipeline('aws', '*')).toThrow(/plain path segment/);
    expect(() => zonePipeline('aws', 'a/zones/b')).toThrow(/plain path segment/);
  });
});

describe('Table', () => {
  it('is built from lib/dynamo/table.ts: keys, GSIs with their projections, TTL, on-demand, stream, PITR, deletion protection, KMS', () => {
    const t = template();
    const table = only(resourcesOf(t, 'AWS::DynamoDB::GlobalTable'));
    const p = table.Properties!;
    expect(p.KeySchema).toEqual([
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ]);
    expect(p.GlobalSecondaryIndexes).toEqual(
      GLOBAL_INDEXES.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: 'HASH' },
          { AttributeName: i.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: i.projection },
      })),
    );
    expect(p.AttributeDefinitions.every((a: any) => a.AttributeType === 'S')).toBe(true);
    expect(p.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(p.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
    expect(p.Replicas).toHaveLength(1);
    expect(p.Replicas[0]).toMatchObject({
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
    expect(table.DeletionPolicy).toBe('Retain');
  });

  it('has a replica (with PITR) in every ipam:replicaRegions region', () => {
    const t = template({ context: { 'ipam:replicaRegions': ['us-west-2', 'eu-west-1'] }, env: ENV });
    const replicas = only(resourcesOf(t, 'AWS::DynamoDB::GlobalTable')).Properties!.Replicas as any[];
    expect(replicas.map((r) => r.Region).sort()).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
    for (const r of replicas) {
      expect(r.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).toBe(true);
      expect(r.DeletionProtectionEnabled).toBe(true);
    }
  });

  it('can run as a standby on an existing replica (ipam:existingTableName/StreamArn) without creating a table', () => {
    const streamArn = 'arn:aws:dynamodb:us-west-2:111122223333:table/Ipam-Table-ABC/stream/2025-01-01T00:00:00.000';
    const t = template({
      env: { account: '111122223333', region: 'us-west-2' },
      context: { 'ipam:existingTableName': 'Ipam-Table-ABC', 'ipam:existingTableStreamArn': streamArn },
    });
    t.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    t.resourceCountIs('AWS::DynamoDB::Table', 0);
    expect(only(resourcesOf(t, 'AWS::Lambda::EventSourceMapping')).Properties!).toMatchObject({ EventSourceArn: streamArn, Enabled: true });
    for (const fn of Object.values(resourcesOf(t, 'AWS::Lambda::Function'))) {
      expect(fn.Properties!.Environment.Variables.IPAM_TABLE).toBe('Ipam-Table-ABC');
    }
    const apiRole = allIamStatements(t).filter((s) => s.owner.startsWith('ApiFunctionRole') && asArray(s.statement.Action).includes('dynamodb:PutItem'));
    expect(asArray(apiRole[0]!.statement.Resource).map(flatten)).toContain(
      'arn:${AWS::Partition}:dynamodb:us-west-2:111122223333:table/Ipam-Table-ABC/index/byHolder',
    );
    expect(() => resolveConfig({ existingTableName: 'Ipam-Table-ABC' })).toThrow(/go together/);
    // A standby's stream consumer stays off until failover (the replica stream repeats the primary's writes).
    const standby = template({ context: { 'ipam:securityEventsEnabled': 'false' } });
    expect(only(resourcesOf(standby, 'AWS::Lambda::EventSourceMapping')).Properties!.Enabled).toBe(false);
  });

  it('refuses replicas without a concrete region, or in its own region', () => {
    expect(() => build({ context: { 'ipam:replicaRegions': ['us-west-2'] } })).toThrow(/concrete stack region/);
    expect(() => build({ context: { 'ipam:replicaRegions': ['us-east-1'] }, env: ENV })).toThrow(/own region/);
  });
});

describe('Functions', () => {
  it('run Node.js 22 on ARM with tracing, source maps, Powertools service name, the table env and explicit log groups', () => {
    const t = template();
    const fns = Object.values(resourcesOf(t, 'AWS::Lambda::Function'));
    expect(fns).toHaveLength(3);
    for (const fn of fns) {
      const p = fn.Properties!;
      expect(p.Runtime).toBe('nodejs22.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Handler).toBe('index.handler');
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.Environment.Variables).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'ipam',
        IPAM_TABLE: { Ref: expect.stringMatching(/^Table/) },
      });
      expect(p.LoggingConfig.LogGroup).toEqual({ Ref: expect.any(String) });
    }
    const byEnv = (name: string) => fns.filter((f) => name in f.Properties!.Environment.Variables);
    expect(byEnv('IPAM_EXPORT_BUCKET')).toHaveLength(1);
    const [security] = byEnv('IPAM_SECURITY_LOG_GROUP');
    expect(security!.Properties!.Environment.Variables.IPAM_SECURITY_LOG_GROUP).toBe('/ipam/Ipam/security-events');
    // The security-events function logs straight into the security log group.
    expect(security!.Properties!.LoggingConfig.LogGroup).toEqual({ Ref: expect.stringMatching(/^SecurityLogLogGroup/) });
    for (const [id, lg] of Object.entries(resourcesOf(t, 'AWS::Logs::LogGroup'))) {
      expect(lg.Properties!.RetentionInDays, id).toBeGreaterThan(0);
    }
  });

  it('carry the ipam:dns* context keys as IPAM_DNS_* variables to the api and zone-export functions (and to no other)', () => {
    const dnsVars = (t: Template) =>
      Object.fromEntries(
        Object.values(resourcesOf(t, 'AWS::Lambda::Function')).map((f) => {
          const vars = f.Properties!.Environment.Variables as Record<string, unknown>;
          const role = 'IPAM_EXPORT_BUCKET' in vars ? 'export' : 'IPAM_SECURITY_LOG_GROUP' in vars ? 'security' : 'api';
          return [role, Object.fromEntries(Object.entries(vars).filter(([k]) => k.startsWith('IPAM_DNS_')))];
        }),
      );
    expect(dnsVars(template())).toEqual({ api: {}, export: {}, security: {} });
    const context = {
      'ipam:dnsPrimaryNs': 'ns1.example.com',
      'ipam:dnsPrimaryNsAddresses': ['192.0.2.53', '2001:db8::53'],
      'ipam:dnsSecondaryNs': 'ns2.example.net,ns3.example.org',
      'ipam:dnsHostmaster': 'hostmaster@example.com',
      'ipam:dnsTtl': 120,
      'ipam:dnsNegativeTtl': '60',
    };
    const expected = {
      IPAM_DNS_PRIMARY_NS: 'ns1.example.com',
      IPAM_DNS_PRIMARY_NS_ADDRESSES: '192.0.2.53,2001:db8::53',
      IPAM_DNS_SECONDARY_NS: 'ns2.example.net,ns3.example.org',
      IPAM_DNS_HOSTMASTER: 'hostmaster@example.com',
      IPAM_DNS_TTL: '120',
      IPAM_DNS_NEGATIVE_TTL: '60',
    };
    const t = template({ context });
    expect(dnsVars(t)).toEqual({ api: expected, export: expected, security: {} });
    // The same through CDK assertions, on each function found by its role.
    for (const marker of [{ IPAM_EXPORT_BUCKET: Match.anyValue() }, { IPAM_TABLE: Match.anyValue(), IPAM_EXPORT_BUCKET: Match.absent(), IPAM_SECURITY_LOG_GROUP: Match.absent() }]) {
      t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ ...marker, ...expected }) } });
    }
    // What the functions read back is what was configured.
    expect(dnsConfigFromEnv(expected)).toEqual({ primaryNs: 'ns1.example.com', primaryNsAddresses: ['192.0.2.53', '2001:db8::53'], secondaryNs: ['ns2.example.net', 'ns3.example.org'], hostmaster: 'hostmaster@example.com', ttl: 120, negativeTtl: 60 });
  });

  it('consume the stream with partial batch failures, bisection, bounded retries and an SQS on-failure destination', () => {
    const t = template();
    const esm = only(resourcesOf(t, 'AWS::Lambda::EventSourceMapping')).Properties!;
    expect(esm).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^Table/), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^SecurityEventsDeadLetterQueue/), 'Arn'] } } },
    });
    const queue = only(resourcesOf(t, 'AWS::SQS::Queue')).Properties!;
    expect(queue.SqsManagedSseEnabled).toBe(true);
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});

describe('Security log', () => {
  it('has retention from context, a rotated customer managed key that CloudWatch Logs may use, and is retained', () => {
    const t = template();
    const group = Object.entries(resourcesOf(t, 'AWS::Logs::LogGroup')).find(([id]) => id.startsWith('SecurityLog'))![1];
    expect(group.Properties!.LogGroupName).toBe('/ipam/Ipam/security-events');
    expect(group.Properties!.RetentionInDays).toBe(365);
    expect(group.DeletionPolicy).toBe('Retain');
    const keyRef = group.Properties!.KmsKeyId['Fn::GetAtt'][0] as string;
    const key = t.toJSON().Resources[keyRef];
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    const logsStatement = (key.Properties.KeyPolicy.Statement as any[]).find((s) =>
      flatten(s.Principal?.Service ?? '').startsWith('logs.'),
    );
    expect(flatten(logsStatement.Principal.Service)).toBe('logs.${AWS::Region}.amazonaws.com');
    expect(logsStatement.Action).toEqual(expect.arrayContaining(['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey']));
    expect(flatten(logsStatement.Condition.ArnEquals['kms:EncryptionContext:aws:logs:arn'])).toBe(
      'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/ipam/Ipam/security-events',
    );

    const longer = template({ context: { 'ipam:securityLogRetentionDays': 731 } });
    const longerGroup = Object.entries(resourcesOf(longer, 'AWS::Logs::LogGroup')).find(([id]) => id.startsWith('SecurityLog'))![1];
    expect(longerGroup.Properties!.RetentionInDays).toBe(731);
    expect(() => resolveConfig({ securityLogRetentionDays: 42 })).toThrow(/retention value/);
  });
});

describe('Zone exports', () => {
  it('write to a private, encrypted, versioned, TLS-only bucket with access logs and noncurrent-version expiry', () => {
    const t = template();
    const buckets = resourcesOf(t, 'AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(2);
    for (const [id, b] of Object.entries(buckets)) {
      const p = b.Properties!;
      expect(p.PublicAccessBlockConfiguration, id).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, id).toBe('AES256');
      expect(p.VersioningConfiguration, id).toEqual({ Status: 'Enabled' });
      expect(b.DeletionPolicy, id).toBe('Retain');
    }
    const [exportId, exportBucket] = Object.entries(buckets).find(([id]) => id.startsWith('ZoneExportsBucket'))!;
    expect(exportBucket.Properties!.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: expect.stringMatching(/^ZoneExportsAccessLogBucket/) },
      LogFilePrefix: 'zone-exports/',
    });
    expect(exportBucket.Properties!.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ Status: 'Enabled', NoncurrentVersionExpiration: expect.objectContaining({ NoncurrentDays: 90 }) }),
    ]);
    const policies = Object.values(resourcesOf(t, 'AWS::S3::BucketPolicy'));
    const exportPolicy = policies.find((p) => p.Properties!.Bucket.Ref === exportId)!;
    expect(exportPolicy.Properties!.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]),
    );
  });

  it('run on the ipam:exportSchedule schedule', () => {
    expect(only(resourcesOf(template(), 'AWS::Events::Rule')).Properties!.ScheduleExpression).toBe('rate(15 minutes)');
    const t = template({ context: { 'ipam:exportSchedule': 'cron(0/5 * * * ? *)' } });
    const rule = only(resourcesOf(t, 'AWS::Events::Rule')).Properties!;
    expect(rule.ScheduleExpression).toBe('cron(0/5 * * * ? *)');
    expect(rule.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ZoneExportsHandlerFunction/), 'Arn'] });
  });
});

describe('Least privilege', () => {
  it('has no IAM statement with Action "*" or "dynamodb:*" (or any service-wide wildcard)', () => {
    for (const context of [{}, { 'ipam:alarmEmail': 'ops@example.com', 'ipam:vpcEndpointIds': [VPCE] }]) {
      const statements = allIamStatements(template({ context }));
      expect(statements.length).toBeGreaterThan(0);
      for (const { owner, statement } of statements) {
        for (const action of asArray(statement.Action ?? [])) {
          expect(action, owner).not.toBe('*');
          expect(action, owner).not.toBe('dynamodb:*');
          expect(action, owner).not.toMatch(/:\*$/);
        }
        expect(statement.NotAction, owner).toBeUndefined();
      }
    }
  });

  it('gives each function only the table, index, stream, queue, bucket-prefix and log-group access it needs', () => {
    const t = template();
    const byRole = (prefix: string) =>
      allIamStatements(t)
        .filter((s) => s.owner.startsWith(prefix))
        .map((s) => ({ actions: asArray(s.statement.Action).sort(), resources: asArray(s.statement.Resource).map(flatten).sort() }));
    const tableArns = ['${Table710B521B.Arn}', '${Table710B521B.Arn}/index/byHolder', '${Table710B521B.Arn}/index/byPoolChunk'].sort();
    const xray = { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: ['*'] };

    const api = byRole('ApiFunctionRole');
    expect(api).toContainEqual({
      actions: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      resources: tableArns,
    });
    expect(api).toContainEqual(xray);
    expect(api).toHaveLength(3);

    const exporter = byRole('ZoneExportsHandlerRole');
    expect(exporter).toContainEqual({
      actions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'],
      resources: tableArns,
    });
    expect(exporter).toContainEqual({ actions: ['s3:PutObject'], resources: [expect.stringMatching(/^\$\{ZoneExportsBucket\w+\.Arn\}\/dns\/\*$/)] });
    expect(exporter).toContainEqual({ actions: ['s3:GetObject'], resources: [expect.stringMatching(/^\$\{ZoneExportsBucket\w+\.Arn\}\/dns\/manifest\.json$/)] });
    expect(exporter).toHaveLength(6);

    const stream = byRole('SecurityEventsHandlerRole');
    const streamActions = stream.flatMap((s) => s.actions);
    expect(streamActions.filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(
      ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'].sort(),
    );
    for (const s of stream.filter((x) => x.actions.some((a) => a.startsWith('dynamodb:')))) {
      expect(s.resources).toEqual(['${Table710B521B.StreamArn}']);
    }
    expect(stream).toContainEqual({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [expect.stringMatching(/^\$\{SecurityLogLogGroup\w+\.Arn\}$/)],
    });
    // Roles carry no AWS managed policy (no AWSLambdaBasicExecutionRole).
    for (const [id, role] of Object.entries(resourcesOf(t, 'AWS::IAM::Role'))) {
      if (id.startsWith('ApiCloudWatchRole')) continue; // the API Gateway account logging role
      expect(role.Properties!.ManagedPolicyArns, id).toBeUndefined();
    }
  });
});

describe('Observability and outputs', () => {
  it('alarms on API 5XX/4XX, function errors and throttles, stream iterator age and DLQ depth; notifies SNS when ipam:alarmEmail is set', () => {
    const t = template();
    const alarms = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties!);
    const metrics = alarms.map((a) => `${a.Namespace}/${a.MetricName}`);
    expect(metrics.filter((m) => m === 'AWS/ApiGateway/5XXError')).toHaveLength(1);
    expect(metrics.filter((m) => m === 'AWS/ApiGateway/4XXError')).toHaveLength(1);
    expect(metrics.filter((m) => m === 'AWS/Lambda/Errors')).toHaveLength(3);
    expect(metrics.filter((m) => m === 'AWS/Lambda/Throttles')).toHaveLength(3);
    expect(metrics.filter((m) => m === 'AWS/Lambda/IteratorAge')).toHaveLength(1);
    expect(metrics.filter((m) => m === 'AWS/SQS/ApproximateNumberOfMessagesVisible')).toHaveLength(1);
    expect(alarms.every((a) => a.AlarmActions === undefined)).toBe(true);
    t.resourceCountIs('AWS::SNS::Topic', 0);

    const withEmail = template({ context: { 'ipam:alarmEmail': 'ops@example.com' } });
    const topicId = Object.keys(resourcesOf(withEmail, 'AWS::SNS::Topic'))[0]!;
    withEmail.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    for (const a of Object.values(resourcesOf(withEmail, 'AWS::CloudWatch::Alarm'))) {
      expect(a.Properties!.AlarmActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('outputs the API URL, table, bucket, security log group and DLQ URL', () => {
    const outputs = Object.keys(template().findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining(['ApiUrl', 'TableName', 'ExportBucketName', 'SecurityLogGroupName', 'DeadLetterQueueUrl']),
    );
  });
});

describe('cdk-nag (AwsSolutions, through Validations)', () => {
  it('reports no unacknowledged finding for the default configuration', () => {
    const { report, error } = nagReport();
    expect(nagViolations(report)).toEqual([]);
    expect(error).toBeUndefined();
  });

  it('reports no unacknowledged finding with replicas, VPC endpoints, trusted principals and an alarm topic (and valid CloudFormation)', () => {
    const { report, error } = nagReport({
      env: ENV,
      cfnValidation: true,
      context: {
        'ipam:replicaRegions': ['us-west-2'],
        'ipam:vpcEndpointIds': [VPCE],
        'ipam:trustedPrincipals': ['444455556666', PIPELINE_ROLE],
        'ipam:alarmEmail': 'ops@example.com',
      },
    });
    expect(nagViolations(report)).toEqual([]);
    expect(error).toBeUndefined();
  });

  it('does catch a finding nobody acknowledged (the check is live)', () => {
    const { report, error } = nagReport({
      extend: (stack) => {
        new s3.Bucket(stack, 'Unhardened', { enforceSSL: false });
      },
    });
    const findings = nagViolations(report);
    expect(findings).toContainEqual({ plugin: 'AwsSolutions', rule: 'AwsSolutions-S1', paths: ['Ipam/Unhardened/Resource'] });
    expect(findings).toContainEqual(expect.objectContaining({ rule: 'AwsSolutions-S10' }));
    expect(error).toMatch(/AwsSolutions-S1/);
  });
});

describe('App', () => {
  it('is environment-agnostic unless CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION are set', () => {
    expect(envFromProcess({})).toBeUndefined();
    expect(envFromProcess({ CDK_DEFAULT_REGION: 'eu-west-1' })).toEqual({ region: 'eu-west-1' });
    expect(envFromProcess({ CDK_DEFAULT_ACCOUNT: '111122223333', CDK_DEFAULT_REGION: 'eu-west-1' })).toEqual({
      account: '111122223333',
      region: 'eu-west-1',
    });
  });

  it('rejects malformed context values', () => {
    expect(() => resolveConfig({ trustedPrincipals: ['alice'] })).toThrow(/ipam:trustedPrincipals/);
    expect(() => resolveConfig({ vpcEndpointIds: ['vpc-123'] })).toThrow(/ipam:vpcEndpointIds/);
    expect(() => resolveConfig({ replicaRegions: '["mars-1"]' })).toThrow(/ipam:replicaRegions/);
    expect(() => resolveConfig({ exportSchedule: 'every 5 minutes' })).toThrow(/ipam:exportSchedule/);
    expect(() => resolveConfig({ apiThrottleRateLimit: -1 })).toThrow(/ipam:apiThrottleRateLimit/);
    expect(() => resolveConfig({ dnsPrimaryNs: 'ns1.example.com' })).toThrow(/ipam:dnsPrimaryNs and ipam:dnsHostmaster go together/);
    expect(() => resolveConfig({ dnsPrimaryNs: 'ns1', dnsHostmaster: 'h@example.com' })).toThrow(/Invalid context ipam:dnsPrimaryNs: .*fully qualified/);
    expect(() => resolveConfig({ dnsPrimaryNs: 'ns1.example.com', dnsHostmaster: 'nobody' })).toThrow(/Invalid context ipam:dnsHostmaster/);
    expect(() => resolveConfig({ dnsPrimaryNs: 'ns1.example.com', dnsHostmaster: 'h@example.com', dnsPrimaryNsAddresses: '127.0.0.1' })).toThrow(/Invalid context ipam:dnsPrimaryNsAddresses: .*loopback/);
    expect(() => resolveConfig({ dnsTtl: '-1' })).toThrow(/ipam:dnsTtl/);
    expect(() => resolveConfig({ dnsExpire: 1.5 })).toThrow(/ipam:dnsExpire/);
    expect(resolveConfig({ replicaRegions: '["us-west-2"]', apiGatewayCloudWatchRole: 'false' })).toMatchObject({
      replicaRegions: ['us-west-2'],
      apiGatewayCloudWatchRole: false,
    });
  });
});
