import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import type { ManagementClient } from 'auth0';
import { type ExportedUser, type ProfileWriter, RetryLater } from '../domain/backfill.ts';
import type { CrmAppMetadata } from '../domain/sync-response.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** The fields the backfill needs, and nothing else of the profile. */
export const EXPORT_FIELDS = [
  { name: 'user_id' },
  { name: 'phone_number' },
  { name: 'email' },
  { name: 'app_metadata.crm', export_as: 'crm' },
];

export type ExportStatus =
  | { readonly state: 'running'; readonly percent?: number }
  | { readonly state: 'completed'; readonly location: string }
  | { readonly state: 'failed'; readonly reason: string };

/**
 * The tenant, enumerated through a user export job (POST /jobs/users-exports): the users search
 * stops at 1,000 results, an export does not. The file is streamed, never held in memory.
 */
export class Auth0UserExport {
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

  /** The exported users, one at a time, from the gzipped NDJSON file at `location`. */
  async *users(location: string): AsyncGenerator<ExportedUser> {
    const response = await this.download(location);
    if (!response.ok || !response.body) {
      throw new Error(`the export download failed: HTTP ${response.status}`);
    }
    const lines = createInterface({
      input: Readable.fromWeb(response.body as WebReadableStream).pipe(createGunzip()),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const row = JSON.parse(line) as Record<string, unknown>;
      if (typeof row.user_id !== 'string') continue;
      yield {
        user_id: row.user_id,
        ...(typeof row.phone_number === 'string' ? { phone_number: row.phone_number } : {}),
        ...(typeof row.email === 'string' ? { email: row.email } : {}),
        ...(row.crm === undefined ? {} : { crm: row.crm }),
      };
    }
  }
}

/**
 * PATCH /users/{id} with `app_metadata.crm`, within the Management API's rate limit: paced by a
 * shared limiter, held back until X-RateLimit-Reset when the API says nothing remains, and a
 * 429 or 5xx becomes RetryLater (the user is tried again, never lost).
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
      const { rawResponse } = await this.client.users
        .update(userId, { app_metadata: { crm: metadata } }, { maxRetries: 0 })
        .withRawResponse();
      this.pace(rawResponse.headers);
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      const headers = (error as { rawResponse?: { headers?: Headers } }).rawResponse?.headers;
      if (status === 429) {
        const after = retryAfterSeconds(headers, this.clock());
        this.limiter.pauseUntil(this.clock() + after * 1000);
        throw new RetryLater('auth0_rate_limited', after);
      }
      if (status !== undefined && status >= 500) throw new RetryLater(`auth0_${status}`);
      throw error;
    }
  }

  private pace(headers: Headers | undefined): void {
    if (headers?.get('x-ratelimit-remaining') !== '0') return;
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) this.limiter.pauseUntil(reset * 1000);
  }
}

function retryAfterSeconds(headers: Headers | undefined, now: number): number {
  const retryAfter = Number(headers?.get('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter;
  const reset = Number(headers?.get('x-ratelimit-reset'));
  if (Number.isFinite(reset) && reset * 1000 > now) return Math.ceil((reset * 1000 - now) / 1000);
  return 1;
}
