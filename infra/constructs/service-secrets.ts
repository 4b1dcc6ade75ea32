import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { CrmKind } from '#shared/crm-config.ts';

export interface ServiceSecretsProps {
  /**
   * The complete ARN of an Auth0 credentials secret made outside the stack (it already holds
   * the credentials when the Action installer runs). Default: the stack creates one, holding a
   * placeholder until the operator puts the credentials.
   */
  readonly auth0CredentialsSecretArn?: string | undefined;
  /** Which CRM: its credentials' secret is the API key, HubSpot's token or Salesforce's app. */
  readonly crmKind?: CrmKind | undefined;
}

/**
 * The service's secrets. Values never appear in the template: the signing secret is generated
 * by Secrets Manager; the CRM key and the Auth0 M2M credentials start as a generated
 * placeholder that the operator replaces (the stack prints the command), unless the Auth0
 * credentials secret exists already and is passed by ARN.
 */
export class ServiceSecrets extends Construct {
  /** `{"current": "...", "previous": "..."}`: previous only during a rotation. */
  readonly signing: Secret;
  /**
   * The CRM's credentials: its API key (http), the private app's token (hubspot), or the
   * connected app's `{"client_id","client_secret"}` (salesforce).
   */
  readonly crmCredentials: Secret;
  /** `{"current": "...", "previous": "..."}`: what the CRM signs its change events with. */
  readonly crmWebhook: Secret;
  /** The HMAC key of the match-key hashes stamps carry for CRM change events. */
  readonly matchKeyHash: Secret;
  /** `{"clientId": "...", "clientSecret": "..."}` of an Auth0 M2M application. */
  readonly auth0: Secret | ISecret;

  constructor(scope: Construct, id: string, props: ServiceSecretsProps = {}) {
    super(scope, id);
    this.signing = this.hmacKey(
      'SigningSecret',
      'auth0-crm-sync: HMAC key of signed /v1/sync requests ({"current","previous"})',
    );
    this.crmWebhook = this.hmacKey(
      'CrmWebhookSecret',
      'auth0-crm-sync: HMAC key of the CRM change events (X-Crm-Signature, {"current","previous"}); give the CRM "current", or put the one the CRM issues',
    );
    this.matchKeyHash = new Secret(this, 'MatchKeyHashSecret', {
      description:
        'auth0-crm-sync: key of the match-key hashes on stamps (shared/domain/match-key-hash.ts); never leaves AWS',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.crmCredentials = this.crmSecret(props.crmKind ?? 'http');
    const created = props.auth0CredentialsSecretArn
      ? undefined
      : new Secret(this, 'Auth0Credentials', {
          description:
            'auth0-crm-sync: Auth0 M2M application for the Management API ({"clientId","clientSecret"})',
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ clientId: 'set-me' }),
            generateStringKey: 'clientSecret',
          },
          removalPolicy: RemovalPolicy.RETAIN,
        });
    this.auth0 =
      created ??
      Secret.fromSecretCompleteArn(
        this,
        'Auth0Credentials',
        props.auth0CredentialsSecretArn as string,
      );
    const rotated = [this.signing, this.crmCredentials, this.crmWebhook, this.matchKeyHash];
    for (const secret of [...rotated, ...(created ? [created] : [])]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotated by the operator, not a rotation Lambda: the signing and CRM webhook secrets need a two-step current/previous rotation coordinated with the Auth0 Action and the CRM; the CRM key and Auth0 credentials are issued by those systems; a new match-key hash key only orphans the hashes written before it, which the next logins and backfill rewrite (README: Operations).',
      });
    }
  }

  /** The CRM's credentials, in the shape its adapter reads (shared/composition/crm-adapter.ts). */
  private crmSecret(kind: CrmKind): Secret {
    switch (kind) {
      // The same logical id for both: a stack moving from http to hubspot keeps its secret.
      case 'http':
      case 'hubspot':
        return new Secret(this, 'CrmApiKey', {
          description:
            kind === 'hubspot'
              ? "auth0-crm-sync: the HubSpot private app's access token (crm.objects.contacts.read); set it with put-secret-value"
              : 'auth0-crm-sync: the CRM API key (x-api-key); set it with put-secret-value',
          removalPolicy: RemovalPolicy.RETAIN,
        });
      case 'salesforce':
        return new Secret(this, 'SalesforceCredentials', {
          description:
            'auth0-crm-sync: the Salesforce connected app ({"client_id","client_secret"}, client-credentials flow); set it with put-secret-value',
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ client_id: 'set-me' }),
            generateStringKey: 'client_secret',
          },
          removalPolicy: RemovalPolicy.RETAIN,
        });
      default:
        // A new CRM_KIND fails to compile here until its secret is said.
        return kind satisfies never;
    }
  }

  /** A generated `{"current": ...}` HMAC key; a rotation adds "previous" beside it. */
  private hmacKey(id: string, description: string): Secret {
    return new Secret(this, id, {
      description,
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'current',
        passwordLength: 48,
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
