import { Annotations, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { StackConfig } from '../config.ts';
import { acknowledgeControl } from '../control-tower.ts';

/** Where the functions run in the governed profile: subnets and security groups of a VPC. */
export interface FunctionNetwork {
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** Control Tower's CT.CLOUDWATCH.PR.2: "retained for at least one year". */
const GOVERNED_MIN_RETENTION = RetentionDays.ONE_YEAR;

/**
 * The stack's deployment profile (`governed`, README "Governed organizations"): what every log
 * group and function of the stack is made with. Governed, the log groups are encrypted with a
 * customer-managed KMS key and kept a year at least, and the functions run in the given VPC, as
 * Control Tower's CT.CLOUDWATCH.PR.2, CT.CLOUDWATCH.PR.3 and CT.LAMBDA.PR.3 require. By default
 * none of that is paid for, and each of those controls is acknowledged on its resource with the
 * reason, so the synth report names what the default does not meet.
 */
export class Governance extends Construct {
  readonly governed: boolean;
  readonly logRetention: RetentionDays;
  readonly logsKey?: IKey;
  readonly network?: FunctionNetwork;

  constructor(scope: Construct, id: string, props: { readonly config: StackConfig }) {
    super(scope, id);
    const { config } = props;
    this.governed = config.governed;
    const configured = config.logRetentionDays as RetentionDays;
    this.logRetention = this.governed
      ? (Math.max(configured, GOVERNED_MIN_RETENTION) as RetentionDays)
      : configured;
    // A setting overridden is worth a warning: set logRetentionDays to 365 or more to silence it.
    if (this.logRetention !== configured) {
      Annotations.of(this).addWarningV2(
        'crm-sync:governed-log-retention',
        `governed: logRetentionDays ${configured} is raised to ${this.logRetention} days (CT.CLOUDWATCH.PR.2 asks for a year at least); set logRetentionDays to 365 or more to say so`,
      );
    }
    if (!this.governed) return;
    this.logsKey = config.logsKmsKeyArn
      ? Key.fromKeyArn(this, 'LogsKey', config.logsKmsKeyArn)
      : this.createLogsKey();
    this.network = {
      subnetIds: config.vpcSubnetIds ?? [],
      securityGroupIds: config.vpcSecurityGroupIds ?? [],
    };
  }

  /**
   * A log group of the stack: retained with the stack (the logs outlive it), kept
   * `logRetention` days, under the logs key when governed.
   */
  logGroup(scope: Construct, id: string): LogGroup {
    const group = new LogGroup(scope, id, {
      retention: this.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(this.logsKey ? { encryptionKey: this.logsKey } : {}),
    });
    if (this.logRetention < GOVERNED_MIN_RETENTION) {
      acknowledgeControl(
        group,
        'CT.CLOUDWATCH.PR.2',
        `Not governed: kept logRetentionDays (${this.logRetention} days); governed=true keeps the log groups a year at least.`,
      );
    }
    if (!this.logsKey) {
      acknowledgeControl(
        group,
        'CT.CLOUDWATCH.PR.3',
        "Not governed: encrypted at rest with CloudWatch Logs' own keys; governed=true encrypts the log groups with a customer-managed KMS key.",
      );
    }
    return group;
  }

  /**
   * The key the stack creates for its log groups, when no logsKmsKeyArn is given: rotated every
   * year (cdk-nag KMS5), kept when the stack goes (the retained logs stay readable), usable by
   * CloudWatch Logs for this account's log groups in this region only, with the key policy
   * statement of "Encrypt log data in CloudWatch Logs using AWS KMS"
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
   * The log groups' names are made by CloudFormation, so the statement names the account's log
   * groups (`log-group:*`) rather than each ARN, which would make the key depend on them.
   */
  private createLogsKey(): Key {
    const stack = Stack.of(this);
    const key = new Key(this, 'LogsKey', {
      description: `auth0-crm-sync (${stack.stackName}): encrypts the stack's CloudWatch log groups`,
      alias: `alias/${stack.stackName}-logs`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchLogsUseForThisAccountsLogGroups',
        principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: [
          'kms:Encrypt*',
          'kms:Decrypt*',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:Describe*',
        ],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`,
          },
        },
      }),
    );
    // Control Tower's CT.KMS.PR.3: grants only for AWS services acting on a resource. CloudWatch
    // Logs uses the key through the statement above, never through a grant.
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'GrantsOnlyForAwsServices',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: {
            'kms:GrantIsForAWSResource': 'false',
            'aws:PrincipalIsAWSService': 'false',
          },
        },
      }),
    );
    return key;
  }
}
