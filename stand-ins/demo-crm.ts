import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generatedCrmId, generatedIndexOf, generatedName, SAMPLE_CONTACTS } from './demo-data.ts';

/** The demo CRM's API key when CRM_API_KEY is not set: the local stack only. */
export const DEMO_CRM_API_KEY = 'demo-crm-key';

/**
 * The sample contacts (demo-data.ts), in the shape of an "extended" CRM record: more than the
 * claims need, so the local stack shows that only the mapped fields reach a token.
 */
export const DEMO_CONTACTS = SAMPLE_CONTACTS.map((contact) => ({
  ...contact,
  address: { city: 'Springfield', country: 'US' },
  notes: 'internal notes that must never reach a token',
  created_at: '2024-01-15T10:00:00Z',
}));

export interface DemoCrm {
  readonly url: string;
  /** Lookups answered so far (for benchmarks that count I/O). */
  readonly lookups: () => number;
  close(): Promise<void>;
}

/**
 * The record the demo CRM invents for any other fictional number (+1 555 xxx xxxx) when started
 * with `generated`: lets the local backfill run a tenant of 100,000 users.
 */
export function generatedContact(phone: string) {
  const i = generatedIndexOf(phone);
  if (i === undefined) return undefined;
  return { id: generatedCrmId(i), name: generatedName(i), tier: 'standard' };
}

/** Speaks the generic CRM protocol of docs/sync-api.md on 127.0.0.1. */
export async function startDemoCrm(options: {
  apiKey: string;
  port?: number;
  generated?: boolean;
}): Promise<DemoCrm> {
  let lookups = 0;
  const server: Server = createServer((req, res) => {
    lookups++;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') return reply(405, { error: 'use POST' });
    if (req.headers['x-api-key'] !== options.apiKey) return reply(401, { error: 'bad api key' });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let query: { phoneNumber?: unknown; email?: unknown };
      try {
        query = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(400, { error: 'bad json' });
      }
      const match =
        DEMO_CONTACTS.find(
          (c) =>
            c.phone === query.phoneNumber || (query.email !== undefined && c.email === query.email),
        ) ??
        (options.generated && typeof query.phoneNumber === 'string'
          ? generatedContact(query.phoneNumber)
          : undefined);
      return match ? reply(200, match) : reply(404, { error: 'no such contact' });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/contacts/lookup`,
    lookups: () => lookups,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
