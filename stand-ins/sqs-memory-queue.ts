import { randomUUID } from 'node:crypto';
import type { ExportedUser, UserQueue } from '#shared/domain/ports.ts';
import { BACKFILL_MAX_RECEIVES } from '#shared/names.ts';
import type { ReceivedMessage } from './sqs-events.ts';

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  firstReceivedAt: number;
  /** How often it was received so far (SQS's ApproximateReceiveCount). */
  receives: number;
  visibleAt: number;
}

/**
 * SQS as the backfill uses it, in memory: a received message is invisible until it is deleted
 * or its visibility timeout ends; then it is visible again, and goes to the dead-letter list
 * once it was received `maxReceives` times (the deployed queue's redrive policy). Unlike SQS it
 * holds at most `capacity` messages: `send` waits for room, so a long export streams through
 * the queue instead of piling up in memory.
 */
export class MemoryQueue implements UserQueue {
  private ready: StoredMessage[] = [];
  private head = 0;
  private delayed: StoredMessage[] = [];
  private nextVisibleAt = Number.POSITIVE_INFINITY;
  private readonly inFlight = new Map<string, StoredMessage>();
  private roomWaiters: Array<() => void> = [];
  private messageWaiters: Array<() => void> = [];
  readonly deadLetters: ExportedUser[] = [];
  readonly maxReceives: number;
  readonly capacity: number;
  /** Users sent so far. */
  sent = 0;
  private closed = false;

  constructor(options: { maxReceives?: number; capacity?: number } = {}) {
    this.maxReceives = options.maxReceives ?? BACKFILL_MAX_RECEIVES;
    this.capacity = options.capacity ?? 2_000;
  }

  /** SendMessageBatch: at most 10 messages, each user as its JSON body. */
  async send(users: readonly ExportedUser[]): Promise<void> {
    if (users.length > 10) throw new Error('SQS batches hold at most 10 messages');
    while (!this.closed && this.depth + this.inFlight.size >= this.capacity) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    if (this.closed) throw new Error('the queue is closed: the run was stopped');
    const now = Date.now();
    for (const user of users) {
      this.ready.push({
        messageId: randomUUID(),
        body: JSON.stringify(user),
        sentAt: now,
        firstReceivedAt: 0,
        receives: 0,
        visibleAt: 0,
      });
    }
    this.sent += users.length;
    this.wake(this.messageWaiters);
  }

  /** ReceiveMessage: up to `max` visible messages, now invisible to other consumers. */
  receive(now: number, max = 10): ReceivedMessage[] {
    if (now >= this.nextVisibleAt) this.promote(now);
    const batch: ReceivedMessage[] = [];
    while (batch.length < max && this.head < this.ready.length) {
      const message = this.ready[this.head] as StoredMessage;
      this.head++;
      message.receives++;
      if (message.receives === 1) message.firstReceivedAt = now;
      this.inFlight.set(message.messageId, message);
      batch.push({
        messageId: message.messageId,
        body: message.body,
        receiveCount: message.receives,
        sentAt: message.sentAt,
        firstReceivedAt: message.firstReceivedAt,
      });
    }
    if (this.head > 1_024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** DeleteMessage: done with. */
  delete(messageId: string): void {
    if (this.inFlight.delete(messageId)) this.wake(this.roomWaiters);
  }

  /**
   * The visibility timeout of a message that was not deleted ends: it comes back after
   * `delayMs`, unless it has been received `maxReceives` times (then it is dead-lettered).
   */
  returnLater(messageId: string, delayMs: number, now: number): 'requeued' | 'dead_lettered' {
    const message = this.inFlight.get(messageId);
    if (!message) throw new Error(`message ${messageId} is not in flight`);
    this.inFlight.delete(messageId);
    if (message.receives >= this.maxReceives) {
      this.deadLetters.push(JSON.parse(message.body) as ExportedUser);
      this.wake(this.roomWaiters);
      return 'dead_lettered';
    }
    message.visibleAt = now + delayMs;
    this.delayed.push(message);
    this.nextVisibleAt = Math.min(this.nextVisibleAt, message.visibleAt);
    this.wake(this.messageWaiters);
    return 'requeued';
  }

  /** Resolves when a message may have become visible (a send, a return, a delay ending). */
  waitForMessage(now: number, maxMs = 50): Promise<void> {
    const ms = Math.max(1, Math.min(maxMs, this.nextVisibleAt - now));
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.messageWaiters.push(done);
    });
  }

  /** Refuses further sends and wakes everyone waiting: the run is stopping. */
  close(): void {
    this.closed = true;
    this.wake(this.roomWaiters);
    this.wake(this.messageWaiters);
  }

  /** Messages waiting, visible or not (in flight excluded). */
  get depth(): number {
    return this.ready.length - this.head + this.delayed.length;
  }

  /** Nothing waiting and nothing in flight. */
  get drained(): boolean {
    return this.depth === 0 && this.inFlight.size === 0;
  }

  private promote(now: number): void {
    const due = this.delayed.filter((m) => m.visibleAt <= now);
    this.delayed = this.delayed.filter((m) => m.visibleAt > now);
    this.nextVisibleAt = this.delayed.reduce(
      (min, m) => Math.min(min, m.visibleAt),
      Number.POSITIVE_INFINITY,
    );
    if (due.length === 0) return;
    this.ready = [...this.ready.slice(this.head), ...due];
    this.head = 0;
  }

  private wake(waiters: Array<() => void>): void {
    if (waiters.length === 0) return;
    const all = waiters.splice(0, waiters.length);
    for (const resolve of all) resolve();
  }
}
