import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ManagementClient } from 'auth0';
import { Auth0UserExport } from '#shared/adapters/auth0-user-export.ts';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import type { BackfillConfig, StampReadConfig } from '#shared/config.ts';
import type { UserQueue } from '#shared/domain/ports.ts';
import { createOrchestrator, type RunState, type Step } from './orchestrator.ts';

export interface OrchestratorClients {
  readonly dynamodb: DynamoDBClient;
  readonly queue: UserQueue;
  /** The Management API client: from Secrets Manager in AWS, the stand-in's locally. */
  readonly management: () => Promise<ManagementClient>;
  /** How the export file is downloaded (the stand-in's own fetch locally). */
  readonly download?: typeof fetch | undefined;
  readonly logger?: Logger | undefined;
  readonly clock?: (() => number) | undefined;
}

/**
 * The orchestrator's step handler: export the tenant, and queue each user a stamp does not
 * already settle. It reads stamps and computes their basis (a pure function of the match key
 * and the claim mapping), so it needs neither the CRM key nor the signing secret.
 */
export function buildOrchestrator(
  config: StampReadConfig,
  backfill: Pick<BackfillConfig, 'connectionId'>,
  clients: OrchestratorClients,
) {
  const logger = clients.logger ?? new Logger({ serviceName: 'crm-sync-backfill' });
  const stamps = new DynamoDbStampStore({
    client: clients.dynamodb,
    tableName: config.tableName,
    retentionDays: config.stampRetentionDays,
  });
  let exporter: { client: ManagementClient; export: Auth0UserExport } | undefined;
  const userExport = async () => {
    const client = await clients.management();
    if (exporter?.client !== client) {
      exporter = { client, export: new Auth0UserExport(client, clients.download) };
    }
    return exporter.export;
  };
  return (input: { step: Step; state: RunState }, remainingMs: () => number) =>
    createOrchestrator({
      export: userExport,
      queue: clients.queue,
      stamps,
      mapping: config.mapping,
      requestPolicy: {
        matchKeys: config.matchKeys,
        defaultPhoneCountry: config.defaultPhoneCountry,
      },
      namespace: config.mapping.namespace,
      logger,
      connectionId: backfill.connectionId,
      remainingMs,
      ...(clients.clock ? { clock: clients.clock } : {}),
    })(input);
}
