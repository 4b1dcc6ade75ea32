import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  type ApiRequest,
  error,
  errorBody,
  invalid,
  isObject,
  isObjectList,
  type Reply,
  send,
} from './http.ts';
import { type ExportField, type ExportJob, now, type Tenant, type User } from './tenant.ts';

/**
 * User export jobs: POST /api/v2/jobs/users-exports starts one, GET /api/v2/jobs/:id finds it
 * 'completed' after `exportPolls` polls with a `location`, and that link (served here, outside
 * /api/v2 and without a token, like the pre-signed S3 link Auth0 hands out) streams the users
 * as gzipped NDJSON.
 */

const DOWNLOAD = /^\/exports\/([^/]+)\.json\.gz$/;

export function createUserExports(
  tenant: Tenant,
  options: { exportPolls: number; baseUrl: () => string },
) {
  const { users, jobs } = tenant;
  const { exportPolls, baseUrl } = options;
  const exportCountdown = new Map<string, number>();

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
    if (job.status === 'pending') {
      const left = (exportCountdown.get(job.id) ?? exportPolls) - 1;
      if (left > 0) {
        exportCountdown.set(job.id, left);
      } else {
        exportCountdown.delete(job.id);
        job.status = 'completed';
        job.location = `${baseUrl()}/exports/${job.id}.json.gz`;
      }
    }
    return { status: 200, body: structuredClone(job) };
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

  async function streamExport(res: ServerResponse, jobId: string): Promise<void> {
    const job = jobs.get(jobId);
    if (job?.status !== 'completed') {
      send(res, { status: 404, body: errorBody(404, 'No such export.') });
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
    async serveDownload(method: string, path: string, res: ServerResponse): Promise<boolean> {
      const jobId = DOWNLOAD.exec(path)?.[1];
      if (jobId === undefined || method !== 'GET') return false;
      await streamExport(res, jobId);
      return true;
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
