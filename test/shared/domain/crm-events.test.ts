import { describe, expect, it } from 'vitest';
import { CrmEventProcessor, MatchKeyHashUnavailable } from '#shared/domain/crm-event-processing.ts';
import { type CrmEvent, readCrmEvents } from '#shared/domain/crm-events.ts';
import { matchKeyHash } from '#shared/domain/match-key-hash.ts';
import type { CrmEventLedger, LinkedStamps, UserQueue } from '#shared/domain/ports.ts';
import type { MatchKey } from '#shared/domain/sync-request.ts';

const policy = { matchKeys: ['phone', 'email'] as const, defaultPhoneCountry: undefined };
const read = (events: unknown) => readCrmEvents({ events }, policy);
const refusal = (events: unknown) => {
  try {
    read(events);
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
};

describe('readCrmEvents', () => {
  it('reads the three types, keeps unknown ones as ignored, and normalises the hints', () => {
    const events = read([
      {
        id: 'a',
        type: 'contact.updated',
        crm_id: 'C-1',
        phone_number: '+1 (555) 010-0001',
        email: ' Ada@Example.COM ',
      },
      { id: 'b', type: 'contact.deleted', crm_id: 'C-2', extra: { ignored: true } },
      {
        id: 'c',
        type: 'contact.merged',
        crm_id: 'C-3',
        merged_into: 'C-4',
        phone_number: 'not a number',
      },
      { id: 'd', type: 'deal.closed' },
    ]);
    expect(events).toEqual([
      {
        id: 'a',
        type: 'contact.updated',
        crmId: 'C-1',
        hints: [
          { kind: 'phone', e164: '+15550100001' },
          { kind: 'email', email: 'ada@example.com' },
        ],
      },
      { id: 'b', type: 'contact.deleted', crmId: 'C-2', hints: [] },
      // An unreadable number is no reason to refuse: the ids still say whom it concerns.
      { id: 'c', type: 'contact.merged', crmId: 'C-3', mergedInto: 'C-4', hints: [] },
      { id: 'd', type: 'unknown' },
    ]);
  });

  it('reads a numeric CRM id as its decimal text, as a stamp holds it; a bad hint is no hint', () => {
    expect(
      read([
        {
          id: 'a',
          type: 'contact.merged',
          crm_id: 1001,
          merged_into: 1002,
          phone_number: 15550100001,
        },
        { id: 'b', type: 'contact.updated', crm_id: 7, email: { at: 'x' } },
      ]),
    ).toEqual([
      { id: 'a', type: 'contact.merged', crmId: '1001', mergedInto: '1002', hints: [] },
      { id: 'b', type: 'contact.updated', crmId: '7', hints: [] },
    ]);
    expect(refusal([{ id: 'a', type: 'contact.updated', crm_id: 1.5 }])).toContain(
      'or a whole number',
    );
  });

  it('hints only at the match keys the deployment uses', () => {
    const [event] = readCrmEvents(
      {
        events: [
          {
            id: 'a',
            type: 'contact.updated',
            crm_id: 'C-1',
            phone_number: '+15550100001',
            email: 'a@b.c',
          },
        ],
      },
      { matchKeys: ['email'], defaultPhoneCountry: undefined },
    );
    expect(event).toMatchObject({ hints: [{ kind: 'email', email: 'a@b.c' }] });
  });

  it.each([
    [{ nope: [] }, 'the body must be a JSON object with an "events" array'],
    [[], '"events" must hold 1 to 100 events'],
    [Array(101).fill({ id: 'x', type: 'deal.closed' }), '"events" must hold 1 to 100 events'],
    [[{ id: 'a', type: 'deal.closed' }, 'text'], 'events[1] must be a JSON object'],
    [[{ type: 'contact.updated', crm_id: 'C' }], 'events[0].id must be a string'],
    [[{ id: 'a\u0000b', type: 'contact.updated', crm_id: 'C' }], 'events[0].id must be a string'],
    [[{ id: 'x'.repeat(257), type: 'contact.updated', crm_id: 'C' }], 'events[0].id must be'],
    [[{ id: 'a', type: 7 }], 'events[0].type must be a string of 1 to 64 characters'],
    [[{ id: 'a', type: 'contact.updated' }], 'events[0].crm_id must be a string'],
    [[{ id: 'a', type: 'contact.merged', crm_id: 'C' }], 'events[0].merged_into must be'],
    [
      [{ id: 'a', type: 'contact.merged', crm_id: 'C', merged_into: 'C' }],
      'events[0].merged_into must differ',
    ],
  ])('refuses %j: %s', (events, message) => {
    expect(refusal(events)).toContain(message);
  });

  it('never quotes what it refuses', () => {
    const message = refusal([
      { id: 'a', type: 'contact.updated', crm_id: 'ada@example.com\u0000' },
    ]);
    expect(message).toContain('events[0].crm_id');
    expect(message).not.toContain('ada@example.com');
  });
});

/** A ledger, stamps and queue in memory, recording what the processor did. */
function fakes(options: { failInvalidate?: string } = {}) {
  const handled = new Set<string>();
  const invalidated: string[] = [];
  const queued: string[] = [];
  const links: Record<string, string[]> = { 'C-1': ['u1'], 'C-2': ['u2', 'u1'], 'C-3': ['u3'] };
  const byHash: Record<string, string[]> = {};
  const ledger: CrmEventLedger = {
    handled: async (ids) => new Set(ids.filter((id) => handled.has(id))),
    recordHandled: async (id) => {
      handled.add(id);
    },
  };
  const stamps: LinkedStamps = {
    usersLinkedTo: async (crmId) => ({ users: links[crmId] ?? [], more: crmId === 'C-2' }),
    usersMatching: async (hash) => ({ users: byHash[hash] ?? [], more: false }),
    invalidate: async (userId) => {
      if (userId === options.failInvalidate) throw new Error('DynamoDB is down');
      invalidated.push(userId);
      return 'invalidated';
    },
  };
  const queue: UserQueue = {
    send: async (users) => {
      queued.push(...users.map((u) => `${u.user_id}:${u.source}`));
    },
  };
  return { handled, invalidated, queued, byHash, ledger, stamps, queue };
}

const updated = (id: string, crmId: string, hints: MatchKey[] = []): CrmEvent => ({
  id,
  type: 'contact.updated',
  crmId,
  hints,
});

describe('CrmEventProcessor', () => {
  it('marks and queues each affected user once, counts duplicates in and across requests', async () => {
    const f = fakes();
    const processor = new CrmEventProcessor({ ...f, matchKeyHash: async () => 'h' });
    const counts = await processor.process([
      updated('e1', 'C-1'),
      updated('e2', 'C-2'),
      updated('e1', 'C-1'),
      { id: 'e3', type: 'unknown' },
    ]);
    expect(counts).toEqual({
      accepted: 2,
      duplicates: 1,
      ignored: 1,
      usersInvalidated: 2,
      usersQueued: 2,
      keysTruncated: 1,
    });
    expect(f.invalidated.sort()).toEqual(['u1', 'u2']);
    expect(f.queued.sort()).toEqual(['u1:crm_event', 'u2:crm_event']);
    expect([...f.handled].sort()).toEqual(['e1', 'e2']);

    const again = await processor.process([updated('e2', 'C-2'), updated('e4', 'C-3')]);
    expect(again).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(f.invalidated).toHaveLength(3);
  });

  it('a merge concerns the users of both contacts; a hint, the users answered for that key', async () => {
    const f = fakes();
    const hash = matchKeyHash('k', { kind: 'phone', e164: '+15550100404' });
    f.byHash[hash] = ['u9'];
    const processor = new CrmEventProcessor({
      ...f,
      matchKeyHash: async (key) => matchKeyHash('k', key),
    });
    await processor.process([
      { id: 'm', type: 'contact.merged', crmId: 'C-3', mergedInto: 'C-1', hints: [] },
      {
        id: 'n',
        type: 'contact.updated',
        crmId: 'C-7',
        hints: [{ kind: 'phone', e164: '+15550100404' }],
      },
    ]);
    expect(f.invalidated.sort()).toEqual(['u1', 'u3', 'u9']);
  });

  it('records no event whose work failed, so the redelivery does it', async () => {
    const f = fakes({ failInvalidate: 'u3' });
    const processor = new CrmEventProcessor({
      ...f,
      matchKeyHash: async () => 'h',
      concurrency: 1,
    });
    await expect(processor.process([updated('e1', 'C-1'), updated('e3', 'C-3')])).rejects.toThrow(
      'DynamoDB is down',
    );
    expect([...f.handled]).toEqual(['e1']);
  });

  it('fails, recording nothing, when an event names a key and the hash key cannot be read', async () => {
    const f = fakes();
    const processor = new CrmEventProcessor({ ...f, matchKeyHash: async () => undefined });
    await expect(
      processor.process([updated('e1', 'C-1', [{ kind: 'email', email: 'a@b.c' }])]),
    ).rejects.toBeInstanceOf(MatchKeyHashUnavailable);
    expect(f.handled.size).toBe(0);
  });
});
