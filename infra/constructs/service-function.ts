import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { metricsNamespace } from '#shared/names.ts';
import { ESM_REQUIRE_SHIM, LAMBDA_NODE_TARGET, lambdaBundleOptions } from '../bundling.ts';

export interface ServiceFunctionProps {
  /** Path of the handler file, from the project root. */
  readonly entry: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  readonly timeout?: Duration;
  readonly memorySize?: number;
  readonly logRetention: RetentionDays;
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Every Lambda of the service, with the same defaults: Node 24 on arm64, one minified ESM
 * bundle built locally by esbuild (no Docker), its own log group with a retention, and a role
 * that may write to that log group and nothing else until a construct grants more.
 */
export class ServiceFunction extends NodejsFunction {
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
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
        forceDockerBundling: false,
      },
    });
    this.logs = logGroup;
    logGroup.grantWrite(role);
  }
}
