import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * How an AWS SDK client reaches a stand-in on this machine (dynalite, the Secrets Manager and
 * SQS test servers): its endpoint, a region and credentials that sign requests nobody checks.
 * Spread into the client's options: `new DynamoDBClient(localAwsClientOptions(endpoint))`.
 */
export const LOCAL_REGION = 'local';

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Where and as whom, without a retry policy: for a client configured as a deployed one is. */
export function localAwsEndpoint(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
}

/** With one attempt: a stand-in's fault, scripted or not, shows at once instead of retried. */
export function localAwsClientOptions(endpoint: string) {
  return { ...localAwsEndpoint(endpoint), maxAttempts: 1 };
}

/** Counts the commands an SDK client sends, by name: the I/O a request costs, counted. */
export function countCommands(client: DynamoDBClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}
