import { pipeline, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { ManagementClient } from 'auth0';
import type { ExportedUser, ExportStatus, UserExport } from '../domain/ports.ts';
import { missingScope } from './auth0-errors.ts';

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
 * The export's download link was refused when the download started: S3's 403 for a pre-signed
 * URL past its expiry. Auth0's link "is valid for 60 seconds. If this time period expires, you
 * have 24 hours to call it again" (auth0/docs-v2
 * main/docs/manage-users/user-migration/bulk-user-exports.mdx): ask the job for a fresh one.
 */
export class ExportLinkExpiredError extends Error {
  constructor(status: number) {
    super(
      `the export download link was refused (HTTP ${status}, as S3 answers a link past its ` +
        '60 seconds): ask the export job again for a fresh location',
    );
    this.name = 'ExportLinkExpiredError';
  }
}

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
    const job = await this.client.jobs.usersExports
      .create({
        format: 'json',
        fields: EXPORT_FIELDS,
        ...(connectionId ? { connection_id: connectionId } : {}),
      })
      .catch((error: unknown) => {
        throw missingScope(error, 'start a user export (POST /api/v2/jobs/users-exports)') ?? error;
      });
    if (!job.id) throw new Error('Auth0 returned an export job without an id');
    return job.id;
  }

  /** pending and processing are both 'running'; completed carries the (short-lived) location. */
  async status(jobId: string): Promise<ExportStatus> {
    const job = (await this.client.jobs.get(jobId).catch((error: unknown) => {
      throw missingScope(error, 'read the export job (GET /api/v2/jobs/{id})') ?? error;
    })) as {
      status?: string;
      location?: string;
      percentage_done?: number;
    };
    if (job.status === 'completed' && job.location) {
      return { state: 'completed', location: job.location };
    }
    if (job.status === 'failed')
      return { state: 'failed', reason: 'Auth0 reports the export job failed' };
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
      if (response.status === 403) throw new ExportLinkExpiredError(response.status);
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
