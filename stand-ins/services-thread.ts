import { Worker } from 'node:worker_threads';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEMO_CRM_API_KEY } from './demo-crm.ts';
import { localDynamoDbClient } from './embedded-dynamodb.ts';
import type { ServicesThreadStarted } from './services-thread.worker.ts';

export interface ServicesThread {
  /** dynalite's endpoint (see localDynamoDbClient). */
  readonly dynamodbEndpoint: string;
  /** The demo CRM (generated: true) and its API key. */
  readonly crm: { readonly url: string; readonly apiKey: string };
  client(): DynamoDBClient;
  close(): Promise<void>;
}

/**
 * dynalite and the demo CRM on a worker thread: in AWS they are other machines, so a benchmark
 * run here should not charge their CPU to the backfill (Node runs one thread per process).
 */
export async function startServicesThread(): Promise<ServicesThread> {
  const worker = new Worker(new URL('./services-thread.worker.ts', import.meta.url), {
    workerData: { apiKey: DEMO_CRM_API_KEY },
  });
  const started = await new Promise<ServicesThreadStarted>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (message: ServicesThreadStarted & { error?: string }) =>
      message.error ? reject(new Error(message.error)) : resolve(message),
    );
  });
  const { dynamodbEndpoint } = started;
  return {
    dynamodbEndpoint,
    crm: { url: started.crmUrl, apiKey: DEMO_CRM_API_KEY },
    client: () => localDynamoDbClient(dynamodbEndpoint),
    async close() {
      const closed = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage('close');
      await closed;
      await worker.terminate();
    },
  };
}
