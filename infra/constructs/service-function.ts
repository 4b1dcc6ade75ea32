import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Effect, Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { metricsNamespace } from '#shared/names.ts';
import {
  ESM_REQUIRE_SHIM,
  LAMBDA_ESBUILD_ARGS,
  LAMBDA_NODE_TARGET,
  lambdaBundleOptions,
} from '../bundling.ts';
import { acknowledgeControl } from '../control-tower.ts';
import type { FunctionNetwork, Governance } from './governance.ts';

export interface ServiceFunctionProps {
  /** Path of the handler file, from the project root. */
  readonly entry: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  readonly timeout?: Duration;
  readonly memorySize?: number;
  /** The deployment profile: the log group's retention and key, the VPC when governed. */
  readonly governance: Governance;
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Every Lambda of the service, with the same defaults: Node 24 on arm64, one minified ESM
 * bundle built locally by esbuild (no Docker), its own log group with a retention, and a role
 * that may write to that log group and nothing else until a construct grants more. Governed, it
 * runs in the profile's VPC (Control Tower's CT.LAMBDA.PR.3).
 */
export class ServiceFunction extends NodejsFunction {
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const logGroup = props.governance.logGroup(scope, `${id}Logs`);
    // Our own role instead of AWSLambdaBasicExecutionRole, which may write to every log group.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    super(scope, id, {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      ...(props.reservedConcurrentExecutions
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      environment: {
        POWERTOOLS_SERVICE_NAME: 'crm-sync',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        METRICS_NAMESPACE: metricsNamespace(Stack.of(scope).stackName),
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: LAMBDA_NODE_TARGET,
        minify: lambdaBundleOptions.minify,
        sourceMap: false,
        mainFields: lambdaBundleOptions.mainFields,
        banner: ESM_REQUIRE_SHIM,
        // The SDK is bundled and tree-shaken: smaller and faster to load than the runtime's copy.
        externalModules: [],
        esbuildArgs: LAMBDA_ESBUILD_ARGS,
        forceDockerBundling: false,
      },
    });
    this.logs = logGroup;
    logGroup.grantWrite(role);
    const { network } = props.governance;
    if (network) this.placeIn(network, role, `${id}NetworkInterfaces`);
    else {
      acknowledgeControl(
        this,
        'CT.LAMBDA.PR.3',
        'Not governed: the function runs in the Lambda-managed network (HTTPS out to the CRM, Auth0 and AWS APIs, nothing in); governed=true places it in the given VPC.',
      );
    }
  }

  /**
   * The function in the VPC's subnets and security groups. Lambda creates and removes its
   * network interfaces with the execution role, so the role gets the EC2 actions of "Giving
   * Lambda functions access to resources in an Amazon VPC"
   * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html): only those, not the
   * AWSLambdaVPCAccessExecutionRole managed policy, which may also write to every log group. The
   * function's own code is denied them: its calls carry lambda:SourceFunctionArn, while the
   * calls Lambda makes to EC2 to create the interfaces do not ("Working with Lambda execution
   * environment credentials",
   * https://docs.aws.amazon.com/lambda/latest/dg/permissions-source-function-arn.html). Lambda checks
   * the role when the function is created, so the function waits for the policy.
   */
  private placeIn(network: FunctionNetwork, role: Role, policyId: string): void {
    const stack = Stack.of(this);
    const actions = [
      'ec2:CreateNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:UnassignPrivateIpAddresses',
    ];
    const policy = new Policy(this.node.scope as Construct, policyId, {
      roles: [role],
      statements: [
        // "ec2:DescribeNetworkInterfaces – This action only works if it's allowed on all
        // resources"; the interfaces are Lambda's, named at run time, in subnets that may be
        // shared from another account (a central network account), so all of them are "*".
        new PolicyStatement({ actions, resources: ['*'] }),
        new PolicyStatement({
          effect: Effect.DENY,
          actions,
          resources: ['*'],
          conditions: {
            ArnLike: {
              'lambda:SourceFunctionArn': `arn:${stack.partition}:lambda:${stack.region}:${stack.account}:function:*`,
            },
          },
        }),
      ],
    });
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "Lambda's network interfaces in the governed VPC: the EC2 actions Lambda documents for it, which take no narrower resource (DescribeNetworkInterfaces only works on *; the interfaces are created at run time), and denied to the function's own code by lambda:SourceFunctionArn.",
    });
    const cfn = this.node.defaultChild as CfnFunction;
    cfn.vpcConfig = {
      subnetIds: [...network.subnetIds],
      securityGroupIds: [...network.securityGroupIds],
    };
    this.node.addDependency(policy);
  }
}
