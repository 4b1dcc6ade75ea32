import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  type ApiRequest,
  error,
  invalid,
  isObject,
  isObjectList,
  type Reply,
  send,
} from './http.ts';
import { type ExportField, type ExportJob, now, type Tenant, type User } from './tenant.ts';

/**
 * User export jobs: POST /api/v2/jobs/users-exports starts one, GET /api/v2/jobs/:id finds it
 * 'processing', then 'completed' at the `exportPolls`-th poll with a `location`, and that link
 * (served here, outside /api/v2 and without a token, like the pre-signed S3 link Auth0 hands out)
 * streams the users as gzipped NDJSON.
 *
 * The unpleasant parts, as Auth0 documents them (auth0/docs-v2
 * main/docs/manage-users/user-migration/bulk-user-exports.mdx): "The download link is valid for
 * 60 seconds. If this time period expires, you have 24 hours to call it again": every GET of a
 * completed job signs a fresh link, and a link used after `linkSeconds` is refused as S3 refuses
 * an expired pre-signed URL. A job not done within `timeoutMs` ends 'failed', as Auth0 marks an
 * import job failed that has not completed in two hours (bulk-user-imports.mdx); for exports the
 * docs give no figure, so the default is a generous 8 hours. `failJob` fails one at once.
 */

const DOWNLOAD = /^\/exports\/([^/]+)\.json\.gz$/;
const EIGHT_HOURS_MS = 8 * 60 * 60 * 1000;

export interface UserExportOptions {
  exportPolls: number;
  baseUrl: () => string;
  /** How long a download link works (default 60 s, as Auth0 documents). */
  linkSeconds?: number | undefined;
  /** A job not completed this long after its creation is 'failed' (default 8 hours). */
  timeoutMs?: number | undefined;
}

export function createUserExports(tenant: Tenant, options: UserExportOptions) {
  const { users, jobs } = tenant;
  const { exportPolls, baseUrl } = options;
  const linkMs = (options.linkSeconds ?? 60) * 1000;
  const timeoutMs = options.timeoutMs ?? EIGHT_HOURS_MS;
  const exportCountdown = new Map<string, number>();
  /** Each signed link (by its signature): its job and when it stops working. */
  const links = new Map<string, { jobId: string; expiresIn: string; expiresAt: number }>();

  function createExport(body: unknown): Reply {
    const request = body === undefined ? {} : body;
    if (!isObject(request)) return invalid('Payload validation error: expected an object');
    const format = request.format ?? 'csv';
    if (format !== 'json') {
      return invalid(
        `format '${String(format)}' (csv is Auth0's default) is not supported by this test server; ask for format: 'json'`,
      );
    }
    const { fields, connection_id: connectionId, limit } = request;
    if (fields !== undefined && !isFieldList(fields)) {
      return invalid('Payload validation error: fields must be [{ name, export_as? }]');
    }
    if (connectionId !== undefined && typeof connectionId !== 'string') {
      return invalid('Payload validation error: connection_id must be a string');
    }
    if (limit !== undefined && (typeof limit !== 'number' || limit < 1)) {
      return invalid('Payload validation error: limit must be a positive number');
    }
    const job: ExportJob = {
      id: `job_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`,
      type: 'users_export',
      status: 'pending',
      format: 'json',
      ...(fields === undefined ? {} : { fields: structuredClone(fields) }),
      ...(connectionId === undefined ? {} : { connection_id: connectionId }),
      ...(limit === undefined ? {} : { limit }),
      created_at: now(),
    };
    jobs.set(job.id, job);
    return { status: 201, body: structuredClone(job) };
  }

  function getJob(job: ExportJob): Reply {
    const unfinished = job.status === 'pending' || job.status === 'processing';
    if (unfinished && Date.now() - Date.parse(job.created_at) >= timeoutMs) {
      job.status = 'failed';
    } else if (unfinished) {
      const left = (exportCountdown.get(job.id) ?? exportPolls) - 1;
      if (left > 0) {
        exportCountdown.set(job.id, left);
        job.status = 'processing';
      } else {
        exportCountdown.delete(job.id);
        job.status = 'completed';
      }
    }
    if (job.status !== 'completed') {
      delete job.location;
      return { status: 200, body: structuredClone(job) };
    }
    job.location = signedLink(job.id);
    return { status: 200, body: structuredClone(job) };
  }

  /** A pre-signed S3-style link to the job's file, working for `linkMs` from now. */
  function signedLink(jobId: string): string {
    const signature = randomBytes(16).toString('hex');
    const signedAt = Date.now();
    const expiresIn = String(Math.ceil(linkMs / 1000));
    links.set(signature, { jobId, expiresIn, expiresAt: signedAt + linkMs });
    const query = new URLSearchParams({
      'X-Amz-Date': amzDate(signedAt),
      'X-Amz-Expires': expiresIn,
      'X-Amz-Signature': signature,
    });
    return `${baseUrl()}/exports/${jobId}.json.gz?${query}`;
  }

  function* exportLines(job: ExportJob): Generator<string> {
    const limit = job.limit ?? Number.POSITIVE_INFINITY;
    let count = 0;
    let chunk = '';
    for (const user of users.values()) {
      if (count >= limit) break;
      count += 1;
      chunk += `${JSON.stringify(project(user, job.fields))}\n`;
      if (chunk.length >= 64 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk !== '') yield chunk;
  }

  async function streamExport(
    res: ServerResponse,
    jobId: string,
    query: Record<string, string>,
  ): Promise<void> {
    const link = links.get(query['X-Amz-Signature'] ?? '');
    if (link?.jobId !== jobId) {
      sendS3Error(
        res,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      );
      return;
    }
    // S3 checks a pre-signed URL's expiry when the request arrives, and a download under way
    // goes on (AWS S3 User Guide, "Download and upload objects with presigned URLs":
    // docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html).
    if (Date.now() >= link.expiresAt) {
      sendS3Error(res, 'AccessDenied', 'Request has expired', {
        'X-Amz-Expires': link.expiresIn,
        Expires: new Date(link.expiresAt).toISOString(),
        ServerTime: new Date().toISOString(),
      });
      return;
    }
    const job = jobs.get(jobId);
    if (job?.status !== 'completed') {
      sendS3Error(res, 'NoSuchKey', 'The specified key does not exist.', {}, 404);
      return;
    }
    // A gzip file, as S3 serves it: no Content-Encoding, so the client sees the gzip bytes.
    res.writeHead(200, { 'content-type': 'application/gzip' });
    await pipeline(Readable.from(exportLines(job), { objectMode: false }), createGzip(), res).catch(
      () => res.destroy(),
    );
  }

  /** /jobs/users-exports and /jobs/:id. */
  function route({ method, segments, body }: ApiRequest): Reply | undefined {
    const [a, b, c] = segments;
    if (a !== 'jobs' || b === undefined || c !== undefined) return undefined;
    if (b === 'users-exports' && method === 'POST') return createExport(body);
    if (method !== 'GET') return undefined;
    const job = jobs.get(b);
    return job ? getJob(job) : error(404, 'The job does not exist.', 'inexistent_job');
  }

  return {
    route,
    /** Answers a GET of a download link (true), or leaves the request alone (false). */
    async serveDownload(
      method: string,
      path: string,
      query: Record<string, string>,
      res: ServerResponse,
    ): Promise<boolean> {
      const jobId = DOWNLOAD.exec(path)?.[1];
      if (jobId === undefined || method !== 'GET') return false;
      await streamExport(res, jobId, query);
      return true;
    },
    /** The job's next GET answers 'failed' (an export Auth0 could not finish). */
    failJob(jobId: string): void {
      const job = jobs.get(jobId);
      if (!job) throw new Error(`no export job ${jobId}`);
      job.status = 'failed';
      delete job.location;
    },
    /** Every link handed out so far stops working (as 60 s later); the next GET signs a new one. */
    expireLinks(): void {
      for (const link of links.values()) link.expiresAt = Math.min(link.expiresAt, Date.now());
    },
  };
}

function isFieldList(value: unknown): value is ExportField[] {
  return isObjectList<ExportField>(
    value,
    (f) =>
      typeof f.name === 'string' && (f.export_as === undefined || typeof f.export_as === 'string'),
  );
}

/** One export row: the requested fields (dotted names reach into objects), or the whole user. */
function project(user: User, fields: ExportField[] | undefined): Record<string, unknown> {
  if (!fields) return user;
  const row: Record<string, unknown> = {};
  for (const field of fields) {
    let value: unknown = user;
    for (const part of field.name.split('.')) {
      value = isObject(value) ? value[part] : undefined;
    }
    if (value !== undefined) row[field.export_as ?? field.name] = value;
  }
  return row;
}

/**
 * S3's error reply: XML `<Error><Code>…</Code><Message>…</Message>…</Error>` (Amazon S3 API
 * Reference, "Error responses": docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
 */
function sendS3Error(
  res: ServerResponse,
  code: string,
  message: string,
  extra: Record<string, string> = {},
  status = 403,
): void {
  const fields = Object.entries({ Code: code, Message: message, ...extra })
    .map(([name, value]) => `<${name}>${value}</${name}>`)
    .join('');
  send(res, {
    status,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${fields}<RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`,
  });
}

/** X-Amz-Date's form: 20260101T000000Z. */
function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
