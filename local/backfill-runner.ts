import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { buildSyncService } from '#functions/sync/wiring.ts';
import { Auth0ProfileWriter, Auth0UserExport } from '#shared/adapters/auth0-users.ts';
import { RateLimiter } from '#shared/adapters/rate-limiter.ts';
import { loadSyncServiceConfig, type SyncServiceConfig } from '#shared/config.ts';
import {
  addOutcome,
  type BackfillCounts,
  BackfillUserSync,
  type EnqueueProgress,
  type ExportedUser,
  emptyCounts,
  enqueueUsersToCheck,
  RetryLater,
  type StampReader,
  type UserQueue,
} from '#shared/domain/backfill.ts';
import type { SyncService } from '#shared/domain/sync.ts';
import { endOfSyncDay } from '#shared/domain/sync-day.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';
import type { ManagementApi, User } from '#stand-ins/auth0-management-api.ts';
import { DEMO_CRM_API_KEY, type DemoCrm, startDemoCrm } from '#stand-ins/demo-crm.ts';
import {
  type EmbeddedDynamoDb,
  localDynamoDbClient,
  startEmbeddedDynamoDb,
} from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';

export interface QueueMessage {
  readonly user: ExportedUser;
  /** How often it was received, this time included (SQS's ApproximateReceiveCount). */
  receives: number;
  visibleAt: number;
}

/**
 * SQS as the backfill uses it, in memory: a received message is invisible until it is deleted
 * or returned; a returned one becomes visible again after its delay, and goes to the
 * dead-letter list after `maxReceives` receives (the deployed queue's redrive policy). Unlike
 * SQS it holds at most `capacity` messages: `send` waits for room, so a long export streams
 * through the queue instead of piling up in memory.
 */
export class MemoryQueue implements UserQueue {
  private ready: QueueMessage[] = [];
  private head = 0;
  private delayed: QueueMessage[] = [];
  private nextVisibleAt = Number.POSITIVE_INFINITY;
  private inFlightCount = 0;
  private roomWaiters: Array<() => void> = [];
  private messageWaiters: Array<() => void> = [];
  readonly deadLetters: ExportedUser[] = [];
  readonly maxReceives: number;
  readonly capacity: number;
  /** Users sent so far. */
  sent = 0;

  constructor(options: { maxReceives?: number; capacity?: number } = {}) {
    this.maxReceives = options.maxReceives ?? 5;
    this.capacity = options.capacity ?? 2_000;
  }

  async send(users: readonly ExportedUser[]): Promise<void> {
    if (users.length > 10) throw new Error('SQS batches hold at most 10 messages');
    while (this.depth + this.inFlightCount >= this.capacity) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    for (const user of users) this.ready.push({ user, receives: 0, visibleAt: 0 });
    this.sent += users.length;
    this.wake(this.messageWaiters);
  }

  /** The next visible message, now invisible to others; undefined when none is visible. */
  receive(now: number): QueueMessage | undefined {
    if (now >= this.nextVisibleAt) this.promote(now);
    if (this.head >= this.ready.length) return undefined;
    const message = this.ready[this.head] as QueueMessage;
    this.head++;
    if (this.head > 1_024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    message.receives++;
    this.inFlightCount++;
    return message;
  }

  /** Done with: the message is deleted. */
  delete(_message: QueueMessage): void {
    this.inFlightCount--;
    this.wake(this.roomWaiters);
  }

  /** A failed message comes back after `delayMs`, unless it has been received too often. */
  returnLater(message: QueueMessage, delayMs: number, now: number): 'requeued' | 'dead_lettered' {
    this.inFlightCount--;
    if (message.receives >= this.maxReceives) {
      this.deadLetters.push(message.user);
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

  /** Messages waiting, visible or not (in flight excluded). */
  get depth(): number {
    return this.ready.length - this.head + this.delayed.length;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Nothing waiting and nothing in flight. */
  get drained(): boolean {
    return this.depth === 0 && this.inFlightCount === 0;
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

/** Where a run stands; `handled` users need nothing more from this run. */
export interface BackfillSnapshot {
  readonly counts: Readonly<BackfillCounts>;
  /** Users read from the export (from `startAt`). */
  readonly exported: number;
  /** Fresh in the profile, settled by today's stamp, or nothing to match on: not queued. */
  readonly passedOver: number;
  readonly enqueued: number;
  readonly handled: number;
  readonly retries: number;
  readonly deadLettered: number;
}

export interface LocalBackfillRun {
  readonly progress: EnqueueProgress;
  readonly counts: BackfillCounts;
  readonly seconds: number;
  /** Users checked per second by the workers. */
  readonly usersPerSecond: number;
  /** Messages that came back (a 429, a 5xx, the CRM down) and were tried again. */
  readonly retries: number;
  readonly deadLettered: number;
}

/**
 * The deployed backfill's steps, run in one process: stream the export into the queue while
 * `workers` consumers sync users with the login path's own code, until the queue drains.
 */
export async function runBackfill(options: {
  readonly users: AsyncIterable<ExportedUser>;
  readonly worker: BackfillUserSync;
  readonly stamps: StampReader;
  readonly service: Pick<SyncService, 'basisOf'>;
  readonly requestPolicy: RequestPolicy;
  readonly namespace: string;
  readonly queue: MemoryQueue;
  readonly workers: number;
  readonly startAt?: number;
  /** Stop reading the export once this many users were read (simulates an interrupted run). */
  readonly stopAfter?: number;
  /** Delay before a failed message is visible again when the error names none (default 1 s). */
  readonly retryDelayMs?: number;
  readonly onProgress?: (snapshot: BackfillSnapshot) => void;
}): Promise<LocalBackfillRun> {
  const { queue } = options;
  const started = performance.now();
  const counts = emptyCounts();
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  let retries = 0;
  let deadLettered = 0;
  let enqueuing = true;
  let latest: EnqueueProgress | undefined;
  const snapshot = (): BackfillSnapshot => {
    const passedOver = latest ? latest.freshInProfile + latest.settledToday + latest.skipped : 0;
    return {
      counts,
      exported: latest?.exported ?? 0,
      passedOver,
      enqueued: latest?.enqueued ?? 0,
      handled: passedOver + counts.checked,
      retries,
      deadLettered,
    };
  };

  const enqueue = enqueueUsersToCheck(options.users, {
    queue,
    stamps: options.stamps,
    service: options.service,
    requestPolicy: options.requestPolicy,
    namespace: options.namespace,
    now: Date.now(),
    startAt: options.startAt ?? 0,
    shouldStop: (progress) => {
      latest = progress;
      options.onProgress?.(snapshot());
      return options.stopAfter !== undefined && progress.exported >= options.stopAfter;
    },
  })
    .then((progress) => {
      latest = progress;
      return progress;
    })
    .finally(() => {
      enqueuing = false;
    });

  const consume = async () => {
    for (;;) {
      const message = queue.receive(Date.now());
      if (!message) {
        if (!enqueuing && queue.drained) return;
        await queue.waitForMessage(Date.now());
        continue;
      }
      try {
        addOutcome(counts, await options.worker.sync(message.user));
        queue.delete(message);
      } catch (error) {
        const delay =
          error instanceof RetryLater && error.afterSeconds !== undefined
            ? error.afterSeconds * 1000
            : retryDelayMs;
        retries++;
        if (queue.returnLater(message, delay, Date.now()) === 'dead_lettered') {
          deadLettered++;
          addOutcome(counts, 'failed');
        }
      }
      options.onProgress?.(snapshot());
    }
  };
  const consumers = Promise.all(Array.from({ length: Math.max(1, options.workers) }, consume));
  // An enqueue failure (the download broke, DynamoDB down) fails the run once the workers have
  // drained what was queued: nothing queued is dropped on the floor.
  const [enqueued, consumed] = await Promise.allSettled([enqueue, consumers]);
  if (consumed.status === 'rejected') throw consumed.reason;
  if (enqueued.status === 'rejected') throw enqueued.reason;
  const progress = enqueued.value;
  const seconds = (performance.now() - started) / 1000;
  return {
    progress,
    counts,
    seconds,
    usersPerSecond: counts.checked / seconds,
    retries,
    deadLettered,
  };
}

/** The run's one summary line: counts and rates, never a user's data. */
export function runSummary(run: LocalBackfillRun): Record<string, number | boolean> {
  const { progress, counts } = run;
  return {
    exported: progress.exported,
    next: progress.next,
    done: progress.done,
    fresh_in_profile: progress.freshInProfile,
    settled_today: progress.settledToday,
    skipped: progress.skipped + counts.skipped,
    enqueued: progress.enqueued,
    checked: counts.checked,
    changed: counts.changed,
    unchanged: counts.unchanged,
    not_found: counts.notFound,
    failed: counts.failed,
    retries: run.retries,
    dead_lettered: run.deadLettered,
    seconds: Math.round(run.seconds * 10) / 10,
    users_per_second: Math.round(run.usersPerSecond),
  };
}

// --- the local stack the backfill runs against ---------------------------------------------------

/** The seeded user `i`: a fictional number the generated demo CRM answers (`C-<7 digits>`). */
export function seededUserId(i: number): string {
  return `sms|user-${i}`;
}

function digitsOf(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i > 9_999_999) {
    throw new RangeError('seeded users are numbered 0 to 9,999,999');
  }
  return String(i).padStart(7, '0');
}

/** The `app_metadata.crm` the service produces for seeded user `i`, as of a past sync. */
export function seededCrmMetadata(
  i: number,
  options: { namespace: string; syncedAt: Date; freshUntil: Date; outdated?: boolean },
) {
  const digits = digitsOf(i);
  return {
    id: `C-${digits}`,
    synced_at: options.syncedAt.toISOString(),
    fresh_until: options.freshUntil.toISOString(),
    namespace: options.namespace,
    fields: {
      crm_id: `C-${digits}`,
      name: options.outdated ? `Customer ${digits} (renamed since)` : `Customer ${digits}`,
    },
  };
}

/** Whether seeded user `i` has CRM data that changed since, spread evenly at `share`. */
export function isChangedUser(i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}

/**
 * Seeds `users` users into the Management API stand-in as a tenant synced yesterday: every
 * profile carries `app_metadata.crm` equal to what the service produces today (same id,
 * namespace and fields; dates of yesterday, no longer fresh), except the `changedShare` whose
 * CRM name changed since. Returns the indexes of the seeded users.
 */
export function seedSyncedTenant(
  api: ManagementApi,
  options: {
    users: number;
    changedShare: number;
    namespace: string;
    timeZone?: string;
    now?: number;
  },
): { first: number; count: number; changed: number } {
  const now = options.now ?? Date.now();
  const syncedAt = new Date(now - 86_400_000);
  const freshUntil = endOfSyncDay(syncedAt, options.timeZone ?? 'UTC');
  let first = -1;
  let changed = 0;
  api.seedUsers(options.users, (i): User => {
    if (first < 0) first = i;
    const outdated = isChangedUser(i, options.changedShare);
    if (outdated) changed++;
    return {
      user_id: seededUserId(i),
      phone_number: `+1555${digitsOf(i)}`,
      app_metadata: {
        crm: seededCrmMetadata(i, { namespace: options.namespace, syncedAt, freshUntil, outdated }),
      },
    };
  });
  return { first, count: options.users, changed };
}

/**
 * Checks every seeded user's profile against what the generated CRM holds for them: the count
 * of users whose `app_metadata.crm` has the right id, namespace and fields, and of the others.
 */
export function verifySeededTenant(
  api: ManagementApi,
  namespace: string,
): { matching: number; mismatched: number } {
  let matching = 0;
  let mismatched = 0;
  for (const user of api.users.values()) {
    const i = Number(/^sms\|user-(\d+)$/.exec(user.user_id)?.[1] ?? Number.NaN);
    const crm = user.app_metadata.crm as
      | { id?: unknown; namespace?: unknown; fields?: Record<string, unknown> }
      | undefined;
    const digits = Number.isInteger(i) ? digitsOf(i) : '';
    const ok =
      crm?.id === `C-${digits}` &&
      crm.namespace === namespace &&
      crm.fields?.crm_id === `C-${digits}` &&
      crm.fields?.name === `Customer ${digits}` &&
      Object.keys(crm.fields).length === 2;
    if (ok) matching++;
    else mismatched++;
  }
  return { matching, mismatched };
}

export interface LocalBackfillStackOptions {
  /** The Management API stand-in (startManagementApi); the stack does not close it. */
  readonly api: ManagementApi;
  /** The CRM; default: the demo CRM answering every +1 555 number (generated: true). */
  readonly crm?: { readonly url: string; readonly apiKey: string };
  /** A DynamoDB endpoint to use; default: an embedded dynalite the stack starts and stops. */
  readonly dynamodb?: DynamoDBClient;
  readonly tableName?: string;
  /** The CRM budget of the workers, calls per second. */
  readonly crmRatePerSecond: number;
  /** The Management API write budget of the workers (the writer's RateLimiter). */
  readonly auth0WritesPerSecond: number;
  /** More service settings (CLAIM_MAP, SYNC_TIME_ZONE, ...). */
  readonly env?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
}

export interface LocalBackfillStack {
  readonly config: SyncServiceConfig;
  readonly namespace: string;
  readonly requestPolicy: RequestPolicy;
  readonly service: SyncService;
  readonly stamps: StampReader;
  readonly exporter: Auth0UserExport;
  readonly worker: BackfillUserSync;
  readonly crmLimiter: RateLimiter;
  readonly writeLimiter: RateLimiter;
  /** CRM lookups the service made (each passes the CRM limiter once). */
  crmCalls(): number;
  /** Starts an export job and waits until its file can be downloaded. */
  exportTenant(pollMs?: number): Promise<string>;
  /** One backfill run over the export at `location` (see runBackfill). */
  run(options: {
    readonly location: string;
    readonly queue?: MemoryQueue;
    readonly workers: number;
    readonly startAt?: number;
    readonly stopAfter?: number;
    readonly retryDelayMs?: number;
    readonly onProgress?: (snapshot: BackfillSnapshot) => void;
  }): Promise<LocalBackfillRun>;
  close(): Promise<void>;
}

/**
 * The backfill wired as the deployed worker wires it (buildSyncService with a CRM limiter, the
 * SDK writer with its own limiter), against local stand-ins: the Management API given, the
 * demo CRM and dynalite unless others are given.
 */
export async function startLocalBackfillStack(
  options: LocalBackfillStackOptions,
): Promise<LocalBackfillStack> {
  let demoCrm: DemoCrm | undefined;
  let dynamo: EmbeddedDynamoDb | undefined;
  let crm = options.crm;
  if (!crm) {
    demoCrm = await startDemoCrm({ apiKey: DEMO_CRM_API_KEY, generated: true });
    crm = { url: demoCrm.url, apiKey: DEMO_CRM_API_KEY };
  }
  if (!options.dynamodb) dynamo = await startEmbeddedDynamoDb();
  const dynamodb = options.dynamodb ?? (dynamo as EmbeddedDynamoDb).client();
  const tableName = options.tableName ?? `backfill-${randomUUID().slice(0, 8)}`;
  await ensureStampTable(dynamodb, tableName);

  const config = loadSyncServiceConfig({
    ...options.env,
    TABLE_NAME: tableName,
    // The backfill signs nothing; the schema wants the API's secret all the same.
    SYNC_SIGNING_SECRET: randomBytes(24).toString('base64url'),
    CRM_URL: crm.url,
    CRM_API_KEY: crm.apiKey,
  });
  const logger = options.logger ?? new Logger({ serviceName: 'crm-sync-backfill' });
  // A burst of a tenth of a second: a run's figure is its steady rate, not a second's head start.
  const crmLimiter = new RateLimiter(
    options.crmRatePerSecond,
    Math.max(1, Math.ceil(options.crmRatePerSecond / 10)),
  );
  let crmCalls = 0;
  const { service, stamps } = buildSyncService(config, {
    dynamodb,
    logger,
    crmLimiter: {
      take: () => {
        crmCalls++;
        return crmLimiter.take();
      },
      pauseUntil: (epochMs) => crmLimiter.pauseUntil(epochMs),
    },
  });
  const client = options.api.client();
  const writeLimiter = new RateLimiter(options.auth0WritesPerSecond);
  const requestPolicy: RequestPolicy = {
    matchKeys: config.matchKeys,
    defaultPhoneCountry: config.defaultPhoneCountry,
  };
  const namespace = config.mapping.namespace;
  const worker = new BackfillUserSync({
    service,
    writer: new Auth0ProfileWriter(client, writeLimiter),
    requestPolicy,
    namespace,
  });
  const exporter = new Auth0UserExport(client, options.api.fetch);

  return {
    config,
    namespace,
    requestPolicy,
    service,
    stamps,
    exporter,
    worker,
    crmLimiter,
    writeLimiter,
    crmCalls: () => crmCalls,
    async exportTenant(pollMs = 50) {
      const jobId = await exporter.start();
      for (;;) {
        const status = await exporter.status(jobId);
        if (status.state === 'completed') return status.location;
        if (status.state === 'failed') throw new Error(`export job ${jobId} failed`);
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
    run: (run) =>
      runBackfill({
        users: exporter.users(run.location),
        worker,
        stamps,
        service,
        requestPolicy,
        namespace,
        queue: run.queue ?? new MemoryQueue(),
        workers: run.workers,
        ...(run.startAt === undefined ? {} : { startAt: run.startAt }),
        ...(run.stopAfter === undefined ? {} : { stopAfter: run.stopAfter }),
        ...(run.retryDelayMs === undefined ? {} : { retryDelayMs: run.retryDelayMs }),
        ...(run.onProgress ? { onProgress: run.onProgress } : {}),
      }),
    async close() {
      if (dynamo) {
        dynamodb.destroy();
        await dynamo.close();
      }
      await demoCrm?.close();
    },
  };
}

export interface ServicesThread {
  /** dynalite's endpoint (see localDynamoDbClient). */
  readonly dynamodbEndpoint: string;
  /** The demo CRM (generated: true) and its API key. */
  readonly crm: { readonly url: string; readonly apiKey: string };
  client(): DynamoDBClient;
  close(): Promise<void>;
}

// A CommonJS worker: dynalite as startEmbeddedDynamoDb starts it, and the demo CRM module.
const SERVICES_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const dynalite = require(workerData.dynalite);
  const { startDemoCrm } = await import(workerData.demoCrm);
  const db = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise((resolve, reject) => {
    db.once('error', reject);
    db.listen(0, '127.0.0.1', resolve);
  });
  const crm = await startDemoCrm({ apiKey: workerData.apiKey, generated: true });
  parentPort.once('message', async () => {
    await crm.close();
    db.close(() => parentPort.postMessage({ closed: true }));
  });
  parentPort.postMessage({ dynamodbPort: db.address().port, crmUrl: crm.url });
})().catch((error) => {
  parentPort.postMessage({ error: String(error && error.stack || error) });
});
`;

/**
 * dynalite and the demo CRM on a worker thread: in AWS they are other machines, so a benchmark
 * run here should not charge their CPU to the backfill (Node runs one thread per process).
 */
export async function startServicesThread(): Promise<ServicesThread> {
  const worker = new Worker(SERVICES_THREAD, {
    eval: true,
    workerData: {
      dynalite: createRequire(import.meta.url).resolve('dynalite'),
      demoCrm: import.meta.resolve('#stand-ins/demo-crm.ts'),
      apiKey: DEMO_CRM_API_KEY,
    },
  });
  const started = await new Promise<{ dynamodbPort: number; crmUrl: string }>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (message: { error?: string; dynamodbPort: number; crmUrl: string }) =>
      message.error ? reject(new Error(message.error)) : resolve(message),
    );
  });
  const dynamodbEndpoint = `http://127.0.0.1:${started.dynamodbPort}`;
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
