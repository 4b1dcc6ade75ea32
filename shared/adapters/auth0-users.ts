import { pipeline, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { type ManagementClient, ManagementError, ManagementTimeoutError } from 'auth0';
import { RetryLater } from '../domain/backfill.ts';
import type { ExportedUser, ExportStatus, ProfileWriter, UserExport } from '../domain/ports.ts';
import type { CrmAppMetadata } from '../domain/sync-response.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { retryAfterMs } from './retry-after.ts';

/** The fields the backfill needs, and nothing else of the profile. */
export const EXPORT_FIELDS = [
  { name: 'user_id' },
  { name: 'phone_number' },
  { name: 'email' },
  { name: 'app_metadata.crm', export_as: 'crm' },
];

/** A line longer than this is no user of ours: the file is broken, not worth buffering. */
const MAX_LINE_CHARS = 1024 * 1024;

/**
 * The tenant, enumerated through a user export job (POST /jobs/users-exports): the users search
 * stops at 1,000 results, an export does not. The file is streamed, never held in memory.
 */
export class Auth0UserExport implements UserExport {
  constructor(
    private readonly client: ManagementClient,
    private readonly download: typeof fetch = fetch,
  ) {}

  async start(connectionId?: string): Promise<string> {
    const job = await this.client.jobs.usersExports.create({
      format: 'json',
      fields: EXPORT_FIELDS,
      ...(connectionId ? { connection_id: connectionId } : {}),
    });
    if (!job.id) throw new Error('Auth0 returned an export job without an id');
    return job.id;
  }

  async status(jobId: string): Promise<ExportStatus> {
    const job = (await this.client.jobs.get(jobId)) as {
      status?: string;
      location?: string;
      percentage_done?: number;
    };
    if (job.status === 'completed' && job.location) {
      return { state: 'completed', location: job.location };
    }
    if (job.status === 'failed') return { state: 'failed', reason: 'the export job failed' };
    return {
      state: 'running',
      ...(job.percentage_done === undefined ? {} : { percent: job.percentage_done }),
    };
  }

  /**
   * The exported users, one at a time, from the gzipped NDJSON file at `location`. Read as the
   * consumer asks (backpressure), so memory holds one chunk, not the file; a broken download
   * fails the iteration, and stopping early closes the download.
   */
  async *users(location: string): AsyncGenerator<ExportedUser> {
    const response = await this.download(location);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`the export download failed: HTTP ${response.status}`);
    }
    // pipeline() destroys every stream on an error or an early stop, unlike pipe().
    const text = pipeline(
      Readable.fromWeb(response.body as WebReadableStream),
      createGunzip(),
      () => {},
    );
    const decoder = new StringDecoder('utf8');
    let rest = '';
    try {
      for await (const chunk of text) {
        const lines = (rest + decoder.write(chunk as Buffer)).split('\n');
        rest = lines.pop() ?? '';
        if (rest.length > MAX_LINE_CHARS) throw new Error('the export file has an oversized line');
        for (const line of lines) {
          const user = readLine(line);
          if (user) yield user;
        }
      }
      const user = readLine(rest + decoder.end());
      if (user) yield user;
    } finally {
      text.destroy();
    }
  }
}

/** One NDJSON line as a user; the CRM metadata under its export name or its own path. */
function readLine(line: string): ExportedUser | undefined {
  if (line.trim() === '') return undefined;
  const row = JSON.parse(line) as Record<string, unknown>;
  if (typeof row.user_id !== 'string') return undefined;
  const appMetadata = row.app_metadata as { crm?: unknown } | undefined;
  const crm = row.crm ?? row['app_metadata.crm'] ?? appMetadata?.crm;
  return {
    user_id: row.user_id,
    ...(typeof row.phone_number === 'string' ? { phone_number: row.phone_number } : {}),
    ...(typeof row.email === 'string' ? { email: row.email } : {}),
    ...(crm === undefined || crm === null ? {} : { crm }),
  };
}

/**
 * PATCH /users/{id} with `app_metadata.crm`, within the Management API's rate limit: paced by a
 * shared limiter, held back for the next token when the API says nothing remains, and a 429
 * (after its Retry-After or X-RateLimit-Reset), a 5xx or a network fault becomes RetryLater:
 * the user is tried again, never lost. Other answers (400, 404: the user is gone) are errors.
 */
export class Auth0ProfileWriter implements ProfileWriter {
  constructor(
    private readonly client: ManagementClient,
    private readonly limiter: RateLimiter,
    private readonly clock: () => number = Date.now,
  ) {}

  async writeCrmMetadata(userId: string, metadata: CrmAppMetadata): Promise<void> {
    await this.limiter.take();
    try {
      // No SDK retries: a retry inside the SDK would hold a worker and bypass the limiter.
      const { rawResponse } = await this.client.users
        .update(userId, { app_metadata: { crm: metadata } }, { maxRetries: 0 })
        .withRawResponse();
      this.pace(rawResponse.headers);
    } catch (error) {
      if (error instanceof ManagementTimeoutError) throw new RetryLater('auth0_timeout');
      if (!(error instanceof ManagementError)) throw error;
      const status = error.statusCode;
      const headers = error.rawResponse?.headers;
      if (status === 429) {
        const after = retryAfterSeconds(headers, this.clock());
        this.limiter.pauseUntil(this.clock() + after * 1000);
        throw new RetryLater('auth0_rate_limited', after);
      }
      if (status === undefined) throw new RetryLater('auth0_network');
      if (status >= 500) throw new RetryLater(`auth0_${status}`);
      throw error;
    }
  }

  /**
   * "Remaining: 0" means the next call would be refused. The bucket refills linearly until
   * X-RateLimit-Reset, so the next token is (reset - now) / limit away: wait that long, not
   * until the whole bucket is full again.
   */
  private pace(headers: Headers | undefined): void {
    if (headers?.get('x-ratelimit-remaining') !== '0') return;
    const resetMs = Number(headers.get('x-ratelimit-reset')) * 1000;
    const limit = Number(headers.get('x-ratelimit-limit'));
    const now = this.clock();
    if (!Number.isFinite(resetMs) || resetMs <= now) return;
    const wait = Number.isFinite(limit) && limit >= 1 ? (resetMs - now) / limit : resetMs - now;
    this.limiter.pauseUntil(now + wait);
  }
}

/** Seconds to wait after a 429: Retry-After (seconds or a date), else X-RateLimit-Reset, else 1. */
export function retryAfterSeconds(headers: Headers | undefined, now: number): number {
  const retryAfter = retryAfterMs(headers?.get('retry-after'), now);
  if (retryAfter !== undefined) return Math.min(retryAfter / 1000, 3_600);
  const reset = Number(headers?.get('x-ratelimit-reset'));
  if (Number.isFinite(reset) && reset * 1000 > now) {
    return Math.min(Math.ceil((reset * 1000 - now) / 1000), 3_600);
  }
  return 1;
}
