import { CustomResource, Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { buildActionCode } from '../action-bundle.ts';
import type { StackConfig } from '../config.ts';
import type { Governance } from './governance.ts';
import { ServiceFunction } from './service-function.ts';
import type { ServiceSecrets } from './service-secrets.ts';

export interface ActionInstallationProps {
  readonly config: StackConfig;
  readonly secrets: ServiceSecrets;
  readonly syncApiUrl: string;
  readonly governance: Governance;
}

/**
 * Opt-in (`installAction`): installs the post-login Action in the tenant with the API URL and
 * the current signing secret as Action secrets, binds it at `actionPosition`, and unbinds it
 * when the stack is removed. A change of the Action's code or settings re-installs it. It reads
 * the Auth0 credentials during the deploy, so they live in a secret made before it
 * (`auth0CredentialsSecretArn`; infra/config.ts refuses the other order).
 */
export class ActionInstallation extends Construct {
  readonly handler: ServiceFunction;

  constructor(scope: Construct, id: string, props: ActionInstallationProps) {
    super(scope, id);
    const { config, secrets } = props;
    this.handler = new ServiceFunction(this, 'Installer', {
      entry: 'functions/auth0-action-installer/handler.ts',
      description: 'auth0-crm-sync: installs and binds the Auth0 post-login Action',
      governance: props.governance,
      // Auth0 builds and deploys a new Action draft asynchronously; the installer waits for it,
      // but stops 30 s before this timeout, so that it still answers CloudFormation (a custom
      // resource that never answers holds the stack for an hour).
      timeout: Duration.minutes(5),
      memorySize: 256,
    });
    secrets.signing.grantRead(this.handler);
    secrets.auth0.grantRead(this.handler);
    new CustomResource(this, 'Action', {
      serviceToken: this.handler.functionArn,
      resourceType: 'Custom::Auth0PostLoginAction',
      properties: {
        ActionName: config.actionName,
        Position: config.actionPosition,
        Code: buildActionCode(),
        SyncApiUrl: props.syncApiUrl,
        SigningSecretArn: secrets.signing.secretArn,
        Auth0SecretArn: secrets.auth0.secretArn,
        Auth0Domain: config.auth0Domain,
        FailMode: config.failMode,
        SyncTimeoutMs: String(config.actionTimeoutMs),
        AccessTokenClaims: String(config.accessTokenClaims),
        MetadataWrites: config.actionMetadataWrites,
      },
    });
  }
}
