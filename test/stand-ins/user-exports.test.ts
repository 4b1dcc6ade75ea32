import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ManagementApi,
  type ManagementApiOptions,
  startManagementApi,
} from '#stand-ins/auth0-management-api/server.ts';

/**
 * The export job's life in the stand-in (stand-ins/auth0-management-api/user-exports.ts), through
 * the real SDK: pending, processing, completed or failed; a download link that expires as
 * Auth0's does after 60 seconds, refused as S3 refuses an expired pre-signed URL; a fresh link on
 * every GET of the job; jobs that time out.
 */

let api: ManagementApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function tenant(options: ManagementApiOptions = {}) {
  api = await startManagementApi(options);
  api.seedUsers(3);
  const client = api.client();
  const job = await client.jobs.usersExports.create({
    format: 'json',
    fields: [{ name: 'user_id' }],
  });
  return { api, client, jobId: job.id ?? '' };
}

async function download(location: string) {
  const response = await (api as ManagementApi).fetch(location);
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, type: response.headers.get('content-type'), bytes };
}

describe('stand-in user export jobs', () => {
  it('go pending → processing → completed, and each GET of a completed job signs a fresh link', async () => {
    const { api, client, jobId } = await tenant({ exportPolls: 3 });
    expect(api.jobs.get(jobId)?.status).toBe('pending');
    const polls = [];
    for (let i = 0; i < 4; i += 1) polls.push(await client.jobs.get(jobId));
    expect(polls.map((p) => p.status)).toEqual([
      'processing',
      'processing',
      'completed',
      'completed',
    ]);
    expect(polls[1]?.location).toBeUndefined();
    const [first, second] = [polls[2]?.location ?? '', polls[3]?.location ?? ''];
    expect(first).not.toBe(second);
    for (const link of [first, second]) {
      const file = await download(link);
      expect(file.status).toBe(200);
      expect(gunzipSync(file.bytes).toString('utf8').trimEnd().split('\n')).toHaveLength(3);
    }
  });

  it('a link used after it expired gets S3\'s 403 "Request has expired"; asking the job again gives one that works', async () => {
    const { api, client, jobId } = await tenant();
    const stale = (await client.jobs.get(jobId)).location ?? '';
    api.expireExportLinks();
    const refused = await download(stale);
    expect(refused.status).toBe(403);
    expect(refused.type).toBe('application/xml');
    expect(refused.bytes.toString('utf8')).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>Request has expired<\/Message><X-Amz-Expires>60<\/X-Amz-Expires>/,
    );
    const fresh = (await client.jobs.get(jobId)).location ?? '';
    expect((await download(fresh)).status).toBe(200);
  });

  it('exportLinkSeconds shortens the link: 0 makes every link expired on arrival', async () => {
    const { client, jobId } = await tenant({ exportLinkSeconds: 0 });
    const link = (await client.jobs.get(jobId)).location ?? '';
    expect(link).toContain('X-Amz-Expires=0');
    expect((await download(link)).status).toBe(403);
  });

  it('a link whose signature was altered is refused (SignatureDoesNotMatch)', async () => {
    const { client, jobId } = await tenant();
    const link = (await client.jobs.get(jobId)).location ?? '';
    const forged = await download(link.replace(/X-Amz-Signature=\w+/, 'X-Amz-Signature=00'));
    expect(forged.status).toBe(403);
    expect(forged.bytes.toString('utf8')).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('a job not completed within exportTimeoutMs ends failed, without a link', async () => {
    const { client, jobId } = await tenant({ exportPolls: 5, exportTimeoutMs: 0 });
    const job = await client.jobs.get(jobId);
    expect(job.status).toBe('failed');
    expect(job.location).toBeUndefined();
  });

  it('failExport makes a job fail at its next GET', async () => {
    const { api, client, jobId } = await tenant({ exportPolls: 3 });
    expect((await client.jobs.get(jobId)).status).toBe('processing');
    api.failExport(jobId);
    expect((await client.jobs.get(jobId)).status).toBe('failed');
  });
});
