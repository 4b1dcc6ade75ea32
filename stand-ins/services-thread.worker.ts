/**
 * The worker thread of services-thread.ts: dynalite and the generated demo CRM, started as the
 * main thread would start them, answering on 127.0.0.1 until told to close.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startDemoCrm } from './demo-crm.ts';
import { startEmbeddedDynamoDb } from './embedded-dynamodb.ts';

export interface ServicesThreadStarted {
  readonly dynamodbEndpoint: string;
  readonly crmUrl: string;
}

const port = parentPort;
if (!port) throw new Error('services-thread.worker.ts runs as a worker thread only');

try {
  const db = await startEmbeddedDynamoDb();
  const crm = await startDemoCrm({
    apiKey: (workerData as { apiKey: string }).apiKey,
    generated: true,
  });
  port.once('message', async () => {
    await crm.close();
    await db.close();
    port.postMessage({ closed: true });
  });
  const started: ServicesThreadStarted = {
    dynamodbEndpoint: db.endpoint,
    crmUrl: crm.url,
  };
  port.postMessage(started);
} catch (error) {
  port.postMessage({ error: String((error as Error)?.stack ?? error) });
}
