/**
 * Builds the CDK app (used by bin/app.ts and by test/infra.test.ts, so both check the same wiring):
 * the IPAM stack plus the cdk-nag AwsSolutions rule pack.
 *
 * cdk-nag 3 is a policy validation plugin (Validations.of(app).addPlugins), not an Aspect: it runs after
 * synthesis, its findings go to the cloud assembly's validation report (policy-validation-report.json),
 * and any unacknowledged finding, error or warning, fails the synth. Findings are acknowledged with
 * Validations.of(construct).acknowledge({ id, reason }) next to the construct that causes them.
 */
import { App, Validations, type AppProps, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_KEYS, DEFAULT_STACK_NAME } from './config.js';
import { IpamStack } from './ipam-stack.js';

export interface IpamAppOptions {
  readonly appProps?: AppProps;
  /** Default: account/region from CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION, each only when set. */
  readonly env?: Environment;
  /** Add the cdk-nag AwsSolutions checks. Default true. */
  readonly nag?: boolean;
}

/** The deployment environment from the CLI's defaults; unset parts stay unset (environment-agnostic). */
export function envFromProcess(processEnv: NodeJS.ProcessEnv = process.env): Environment | undefined {
  const account = processEnv.CDK_DEFAULT_ACCOUNT || undefined;
  const region = processEnv.CDK_DEFAULT_REGION || undefined;
  if (!account && !region) return undefined;
  return { ...(account ? { account } : {}), ...(region ? { region } : {}) };
}

export function createIpamApp(options: IpamAppOptions = {}): { app: App; stack: IpamStack } {
  const app = new App(options.appProps);
  const stackName = (app.node.tryGetContext(CONTEXT_KEYS.stackName) as string | undefined) || DEFAULT_STACK_NAME;
  const stack = new IpamStack(app, stackName, { env: options.env ?? envFromProcess() });
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  }
  return { app, stack };
}
