import { createServer, type IncomingMessage, type Server } from 'node:http';
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

type Contact = Record<string, unknown> & { id: string; phone?: string; email?: string };

export interface DemoCrm {
  readonly url: string;
  /** Where `npm run demo:crm-change` changes a contact: POST {"phone_number", "changes"}. */
  readonly changeUrl: string;
  /** Lookups answered so far (for benchmarks that count I/O). */
  readonly lookups: () => number;
  /** Adds or replaces a contact (by id). */
  put(contact: Contact): void;
  /** Changes fields of the contact with this phone number; its id, or undefined if none. */
  change(phone: string, changes: Record<string, unknown>): string | undefined;
  /** Deletes a contact: lookups of its phone number or email find nobody. */
  remove(crmId: string): void;
  /** Merges one contact into another: lookups of the first's number or email find the second. */
  merge(fromId: string, intoId: string): void;
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

/**
 * Speaks the generic CRM protocol of docs/sync-api.md on 127.0.0.1, over contacts it can change
 * as a CRM's users would (each instance its own copy): what CRM change events are about.
 */
export async function startDemoCrm(options: {
  apiKey: string;
  port?: number;
  generated?: boolean;
}): Promise<DemoCrm> {
  let lookups = 0;
  const contacts = new Map<string, Contact>(DEMO_CONTACTS.map((c) => [c.id, structuredClone(c)]));
  /** A merged contact's id → the contact it was merged into. */
  const mergedInto = new Map<string, string>();
  /** Generated contacts changed since start, by phone. */
  const changedGenerated = new Map<string, Contact>();
  /** Deleted (or merged) contacts, kept to know whose number a merge moved; generated ones by phone. */
  const removed = new Map<string, Contact>();
  const removedGenerated = new Set<string>();

  const find = (query: { phoneNumber?: unknown; email?: unknown }): Contact | undefined => {
    const matches = (c: Contact) =>
      c.phone === query.phoneNumber || (query.email !== undefined && c.email === query.email);
    const found = [...contacts.values()].find(matches);
    if (found) return found;
    for (const [from, into] of mergedInto) {
      // A merged contact's number and email now lead to the contact that was kept.
      const old = removed.get(from);
      if (old && matches(old)) return contacts.get(into);
    }
    if (!options.generated || typeof query.phoneNumber !== 'string') return undefined;
    if (removedGenerated.has(query.phoneNumber)) return undefined;
    return changedGenerated.get(query.phoneNumber) ?? generatedContact(query.phoneNumber);
  };
  const crm = {
    put(contact: Contact) {
      contacts.set(contact.id, structuredClone(contact));
    },
    change(phone: string, changes: Record<string, unknown>): string | undefined {
      const contact = find({ phoneNumber: phone });
      if (!contact) return undefined;
      const changed = { ...contact, ...changes, id: contact.id };
      if (contacts.has(contact.id)) contacts.set(contact.id, changed);
      else changedGenerated.set(phone, { ...changed, phone });
      return contact.id;
    },
    remove(crmId: string) {
      const contact = contacts.get(crmId);
      if (contact) removed.set(crmId, contact);
      contacts.delete(crmId);
      for (const [phone, c] of changedGenerated) if (c.id === crmId) removedGenerated.add(phone);
    },
    merge(fromId: string, intoId: string) {
      crm.remove(fromId);
      mergedInto.set(fromId, intoId);
    },
  };

  const server: Server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') return reply(405, { error: 'use POST' });
    if (req.headers['x-api-key'] !== options.apiKey) return reply(401, { error: 'bad api key' });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readAll(req));
    } catch {
      // Not JSON, or the request was cut off while it was read.
      if (!res.destroyed) reply(400, { error: 'bad json' });
      return;
    }
    if (req.url === CHANGE_PATH) {
      const { phone_number: phone, changes } = body;
      if (typeof phone !== 'string' || typeof changes !== 'object' || changes === null) {
        return reply(400, { error: 'send {"phone_number": "+1...", "changes": {...}}' });
      }
      const id = crm.change(phone, changes as Record<string, unknown>);
      return id ? reply(200, { crm_id: id }) : reply(404, { error: 'no such contact' });
    }
    lookups++;
    const match = find(body);
    return match ? reply(200, match) : reply(404, { error: 'no such contact' });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/contacts/lookup`,
    changeUrl: `http://127.0.0.1:${port}${CHANGE_PATH}`,
    lookups: () => lookups,
    ...crm,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const CHANGE_PATH = '/admin/contacts/change';

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
