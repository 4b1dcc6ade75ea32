import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  Billing,
  ProjectionType,
  TableEncryptionV2,
  TableV2,
} from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { STAMP_TABLE } from '#shared/names.ts';

/**
 * One item per user: the last CRM answer, its freshness, and the lease of a lookup in flight;
 * indexed by CRM id and match-key hash for CRM change events.
 */
export class StampTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: STAMP_TABLE.partitionKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: STAMP_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      encryption: TableEncryptionV2.awsManagedKey(),
      removalPolicy: RemovalPolicy.RETAIN,
      // Where CRM change events find the stamps they concern (shared/names.ts). Keys only: an
      // event needs the user ids, and the index then holds no stamp data.
      globalSecondaryIndexes: [STAMP_TABLE.changeIndex].map((index) => ({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        projectionType: ProjectionType.KEYS_ONLY,
      })),
    });
  }
}

/**
 * Item actions on the table alone. TableV2.grant would add `<table>/index/*`, every index, to
 * each grant (cdk-nag's IAM5): only the CRM events function may query an index, and only the two
 * it needs (grantIndexQuery).
 */
export function grantItemActions(table: TableV2, grantee: IGrantable, ...actions: string[]): void {
  Grant.addToPrincipal({ grantee, actions, resourceArns: [table.tableArn] });
}

/** dynamodb:Query on the named indexes of the table, and nothing else. */
export function grantIndexQuery(table: TableV2, grantee: IGrantable, indexNames: string[]): void {
  Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:Query'],
    resourceArns: indexNames.map((name) => `${table.tableArn}/index/${name}`),
  });
}
