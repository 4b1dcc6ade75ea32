import { Duration } from 'aws-cdk-lib';
import { HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CRM_EVENT_KEY_PREFIX, STAMP_TABLE } from '#shared/names.ts';
import type { StackConfig } from '../config.ts';
import type { Governance } from './governance.ts';
import { ServiceFunction } from './service-function.ts';
import type { ServiceSecrets } from './service-secrets.ts';
import { grantIndexQuery } from './stamp-table.ts';
import { type SyncApi, stampEnvironment } from './sync-api.ts';

export interface CrmEventsProps {
  readonly config: StackConfig;
  readonly table: TableV2;
  readonly secrets: ServiceSecrets;
  readonly governance: Governance;
  /** The API the route is added to: the sync API's, so the CRM is given the same host. */
  readonly api: SyncApi;
  /** The backfill's queue of re-syncs: affected users go there, worked by its worker. */
  readonly resyncs: IQueue;
}

/**
 * POST /v1/crm-events: the CRM's signed change events, in a function of its own. It holds the
 * webhook secret and may queue users, which the login path may not; the login path's bundle
 * stays without the SQS client.
 */
export class CrmEvents extends Construct {
  readonly handler: ServiceFunction;
  readonly url: string;

  constructor(scope: Construct, id: string, props: CrmEventsProps) {
    super(scope, id);
    const { config, table, secrets } = props;
    this.handler = new ServiceFunction(this, 'CrmEventsFunction', {
      entry: 'functions/crm-events/handler.ts',
      description: 'auth0-crm-sync: POST /v1/crm-events (CRM change events)',
      governance: props.governance,
      // 100 events, each a few DynamoDB calls, worked 8 at a time: seconds at worst; within
      // API Gateway's 30 s integration timeout, so the CRM always gets an answer.
      timeout: Duration.seconds(25),
      environment: {
        ...stampEnvironment(config, table),
        CRM_WEBHOOK_SECRET_ARN: secrets.crmWebhook.secretArn,
        MATCH_KEY_HASH_SECRET_ARN: secrets.matchKeyHash.secretArn,
        RESYNC_QUEUE_URL: props.resyncs.queueUrl,
      },
    });
    // What DynamoDbCrmEvents does, and no more (DynamoDB's fine-grained access control,
    // dynamodb:LeadingKeys and dynamodb:Attributes: https://docs.aws.amazon.com/amazondynamodb/
    // latest/developerguide/specifying-conditions.html). Whole items only under the event ids'
    // prefix: it cannot write a stamp, a used signature or the backfill's run lock.
    this.handler.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:BatchGetItem', 'dynamodb:PutItem'],
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${CRM_EVENT_KEY_PREFIX}*`] },
        },
      }),
    );
    // Marking a stamp changed: an UpdateItem of a user's item (no `#` key: never one of the
    // service's own items) that touches the two attributes it sets and the one its condition
    // reads, and returns nothing. It cannot change a stamp's data, link or lease.
    this.handler.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringNotLike': { 'dynamodb:LeadingKeys': ['#*'] },
          'ForAllValues:StringEquals': {
            'dynamodb:Attributes': [
              STAMP_TABLE.partitionKey,
              'fresh_until',
              'crm_changed_at',
              'synced_at',
            ],
          },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
        },
      }),
    );
    grantIndexQuery(table, this.handler, [STAMP_TABLE.changeIndex.indexName]);
    secrets.crmWebhook.grantRead(this.handler);
    secrets.matchKeyHash.grantRead(this.handler);
    props.resyncs.grantSendMessages(this.handler);

    props.api.addSignedRoute(
      '/v1/crm-events',
      // Every method: the function answers the contract's 405 for any but POST.
      HttpMethod.ANY,
      this.handler,
      'Every POST /v1/crm-events request is authenticated by its HMAC signature (X-Crm-Signature, the CRM webhook secret) inside the handler before its body is read; a CRM webhook cannot sign SigV4 or obtain a JWT.',
    );
    this.url = props.api.url.replace(/\/v1\/sync$/, '/v1/crm-events');
  }
}
