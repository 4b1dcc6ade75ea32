import { CfnOutput, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  ApiMapping,
  DomainName,
  EndpointType,
  HttpApi,
  type HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { CfnPermission, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct } from 'constructs';
import type { StackConfig } from '../config.ts';
import { acknowledgeControl } from '../control-tower.ts';
import type { Governance } from './governance.ts';
import { ServiceFunction } from './service-function.ts';
import type { ServiceSecrets } from './service-secrets.ts';
import { grantItemActions } from './stamp-table.ts';

export interface SyncApiProps {
  readonly config: StackConfig;
  readonly table: TableV2;
  readonly secrets: ServiceSecrets;
  readonly governance: Governance;
}

/**
 * POST /v1/sync and GET /v1/health: an HTTP API in front of the sync Lambda; on a custom
 * domain when `domainName` and `certificateArn` are set, and then only there.
 */
export class SyncApi extends Construct {
  readonly handler: ServiceFunction;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly url: string;

  constructor(scope: Construct, id: string, props: SyncApiProps) {
    super(scope, id);
    const { config, table, secrets } = props;
    this.handler = new ServiceFunction(this, 'SyncFunction', {
      entry: 'functions/sync/handler.ts',
      description: 'auth0-crm-sync: POST /v1/sync (Sync API v1)',
      governance: props.governance,
      // The service answers within the Action's timeout (shared/domain/time-budget.ts); the rest
      // is room for bounded AWS calls. Never past API Gateway's own 30 s.
      timeout: Duration.seconds(Math.max(10, Math.ceil(config.actionTimeoutMs / 1000) + 5)),
      ...(config.syncMaxConcurrency
        ? { reservedConcurrentExecutions: config.syncMaxConcurrency }
        : {}),
      environment: {
        ...syncServiceEnvironment(config, table, secrets),
        // Verbatim: the service parses and checks it at start (shared/config.ts).
        ...(config.allowedSourceIps ? { ALLOWED_SOURCE_IPS: config.allowedSourceIps } : {}),
      },
    });
    // Exactly what the stamp store does: read, conditional update (lease), put (stamp).
    grantItemActions(
      table,
      this.handler,
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'dynamodb:PutItem',
    );
    secrets.signing.grantRead(this.handler);
    secrets.crmCredentials.grantRead(this.handler);
    secrets.matchKeyHash.grantRead(this.handler);

    // $default routes everything to the handler, which answers unknown routes and methods
    // with the contract's own 404/405 JSON.
    const custom =
      config.domainName && config.certificateArn
        ? { domainName: config.domainName, certificateArn: config.certificateArn }
        : undefined;
    this.api = new HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-sync-api`,
      description: 'auth0-crm-sync Sync API v1',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Sync', this.handler),
      // On a custom domain the execute-api URL would be a second way in, around whatever the
      // domain's owner puts in front of it: it is turned off.
      // `executeApiEndpoint=true` keeps it for the deploy that adds the domain (see `url`).
      ...(custom && !config.executeApiEndpoint ? { disableExecuteApiEndpoint: true } : {}),
    });
    const accessLogs = props.governance.logGroup(this, 'AccessLogs');
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.apiRateLimit, burstLimit: config.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // Request metadata only: no body, no headers (the signature stays out of the logs).
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            method: '$context.httpMethod',
            path: '$context.path',
            status: '$context.status',
            latency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const executeApiUrl = `${this.stage.url.replace(/\/$/, '')}/v1/sync`;
    const customUrl =
      custom && `https://${this.customDomain(custom.domainName, custom.certificateArn)}/v1/sync`;
    // The URL the Action is given (SyncApiUrl, and the installer's): while the execute-api URL
    // stays on beside a new domain, logins keep it, since DNS may not point at the domain yet.
    this.url = customUrl && !config.executeApiEndpoint ? customUrl : executeApiUrl;
    if (customUrl && config.executeApiEndpoint) {
      new CfnOutput(scope, 'SyncApiCustomUrl', {
        value: customUrl,
        description:
          'The custom domain URL: once DNS points at SyncApiDnsTarget and a signed request answers there, deploy without executeApiEndpoint to move the Action to it',
      });
    }
    this.guardDefaultRoute();
    new CfnOutput(scope, 'SyncApiUrl', {
      value: this.url,
      description: 'SYNC_API_URL of the Auth0 Action',
    });
  }

  /**
   * The `$default` route takes no authorizer: every request but the health check is signed
   * (HMAC, X-Sync-Signature) and checked in the handler before anything is read, and the Action,
   * which calls it, cannot sign SigV4 (IAM) nor hold a JWT without a token request per login.
   * Its invoke permission names the API (SourceArn) and the account (SourceAccount): the
   * account, a plain string, is what Control Tower's CT.LAMBDA.PR.2 can read at synth, where
   * the SourceArn is an Fn::Join. API Gateway sends both: the function policy the Lambda and API
   * Gateway consoles write for an API carries `aws:SourceAccount` beside `aws:SourceArn`
   * ("Invoking a Lambda function using an Amazon API Gateway endpoint", Permissions,
   * https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway.html). SourceAccount cannot
   * change in place: the first deploy with it replaces the permission (the new one is added
   * before the old one goes).
   */
  private guardDefaultRoute(): void {
    this.guardSignedRoute(
      this.api.node.findChild('DefaultRoute'),
      'Every POST /v1/sync and GET /v1/users/{user_id} request is authenticated by its HMAC signature (X-Sync-Signature) inside the handler before anything is read, and the Auth0 Action cannot sign SigV4; /v1/health is public by contract (behind ALLOWED_SOURCE_IPS when set).',
    );
  }

  /**
   * A route of its own to another function, signed in its handler as the others are (no
   * authorizer: a CRM's webhook cannot sign SigV4 nor fetch a JWT either).
   */
  addSignedRoute(path: string, method: HttpMethod, handler: IFunction, reason: string): void {
    const [route] = this.api.addRoutes({
      path,
      methods: [method],
      integration: new HttpLambdaIntegration(`${handler.node.id}Integration`, handler),
    });
    if (route) this.guardSignedRoute(route, reason);
  }

  private guardSignedRoute(route: IConstruct, reason: string): void {
    Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    acknowledgeControl(route, 'CT.APIGATEWAY.PR.5', reason);
    const account = Stack.of(this).account;
    for (const permission of route.node.findAll()) {
      if (!(permission instanceof CfnPermission)) continue;
      permission.sourceAccount = account;
      if (Token.isUnresolved(account)) {
        acknowledgeControl(
          permission,
          'CT.LAMBDA.PR.2',
          'The stack is environment-agnostic (no stages in cdk.json): SourceAccount is the deploying account (AWS::AccountId), which a deploy-time Control Tower hook reads resolved, and SourceArn names this API; give the stack an account (stages) to have synth check it.',
        );
      }
    }
  }

  /**
   * A regional API Gateway domain (TLS 1.2 at least) mapped to the $default stage, and the
   * outputs to point DNS at it: a CNAME, or a Route 53 alias with the hosted zone id.
   */
  private customDomain(name: string, certificateArn: string): string {
    const domain = new DomainName(this, 'Domain', {
      domainName: name,
      certificate: Certificate.fromCertificateArn(this, 'Certificate', certificateArn),
      endpointType: EndpointType.REGIONAL,
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    new ApiMapping(this, 'DomainMapping', { api: this.api, domainName: domain, stage: this.stage });
    const scope = this.node.scope as Construct;
    new CfnOutput(scope, 'SyncApiDnsTarget', {
      value: domain.regionalDomainName,
      description: `Point ${name} here: a CNAME, or a Route 53 alias (A) with SyncApiDnsHostedZoneId`,
    });
    new CfnOutput(scope, 'SyncApiDnsHostedZoneId', {
      value: domain.regionalHostedZoneId,
      description: 'The hosted zone id of SyncApiDnsTarget, for a Route 53 alias record',
    });
    return name;
  }
}

/** The settings of how stamps are keyed and read (shared/config.ts `stampSettings`). */
export function stampEnvironment(config: StackConfig, table: TableV2): Record<string, string> {
  return {
    TABLE_NAME: table.tableName,
    // With the paths below, which the stack always sets: every function reads stamps alike.
    CRM_KIND: config.crmKind,
    CRM_ID_PATH: config.crmIdPath,
    CRM_MATCH_KEYS: config.crmMatchKeys,
    CLAIM_NAMESPACE: config.claimNamespace,
    CLAIM_MAP: JSON.stringify(config.claimMap),
    ...(config.defaultPhoneCountry ? { DEFAULT_PHONE_COUNTRY: config.defaultPhoneCountry } : {}),
  };
}

/** Every setting of the sync service: the API's and the backfill worker's environment. */
export function syncServiceEnvironment(
  config: StackConfig,
  table: TableV2,
  secrets: ServiceSecrets,
): Record<string, string> {
  return {
    ...stampEnvironment(config, table),
    SYNC_SIGNING_SECRET_ARN: secrets.signing.secretArn,
    MATCH_KEY_HASH_SECRET_ARN: secrets.matchKeyHash.secretArn,
    ...crmEnvironment(config, secrets),
    CRM_TIMEOUT_MS: String(config.crmTimeoutMs),
    ACTION_TIMEOUT_MS: String(config.actionTimeoutMs),
    SYNC_TIME_ZONE: config.syncTimeZone,
  };
}

/** Where the CRM is and which secret holds its credentials, by crmKind (crm-config.ts). */
function crmEnvironment(config: StackConfig, secrets: ServiceSecrets): Record<string, string> {
  const url = config.crmUrl === undefined ? {} : { CRM_URL: config.crmUrl };
  const kind = config.crmKind;
  switch (kind) {
    case 'http':
    case 'hubspot':
      return { ...url, CRM_API_KEY_SECRET_ARN: secrets.crmCredentials.secretArn };
    case 'salesforce':
      return {
        ...url,
        SALESFORCE_CREDENTIALS_SECRET_ARN: secrets.crmCredentials.secretArn,
        SALESFORCE_OBJECT: config.salesforceObject,
        SALESFORCE_API_VERSION: config.salesforceApiVersion,
        SALESFORCE_PHONE_FIELDS: config.salesforcePhoneFields,
      };
    default:
      // A new CRM_KIND fails to compile here until its variables are said.
      return kind satisfies never;
  }
}
