import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AUTH0_OUTBOUND_IPS } from '#shared/domain/auth0-outbound-ips.ts';
import {
  DATA_MODULE,
  RefreshError,
  refreshAuth0Ips,
  renderDataModule,
} from '#tools/refresh-auth0-ips.ts';

/**
 * A list in the format Auth0 publishes at https://cdn.auth0.com/ip-ranges.json, as its docs
 * page describes it (https://auth0.com/docs/secure/security-guidance/data-security/allowlist,
 * "Schema"): `last_updated_at`, `regions` keyed by region code with `ipv4_cidrs`, and
 * `changelog`. Region codes are upper case, as in terraform-provider-auth0's
 * internal/auth0/outboundips/flatten_test.go; the addresses are from the docs page.
 */
const PUBLISHED = {
  last_updated_at: '2026-11-20T09:30:00Z',
  regions: {
    US: { ipv4_cidrs: ['174.129.105.183/32', '18.116.79.126/32'] },
    EU: { ipv4_cidrs: ['18.197.9.11/32', '52.28.184.187/32'] },
    CA: { ipv4_cidrs: ['15.222.97.193/32', '3.97.144.31/32'] },
  },
  changelog: [{ date: '2026-11-20', region: 'CA', action: 'add', ipv4_cidrs: ['3.97.144.31/32'] }],
};

type Answer = (headers: IncomingHttpHeaders) => {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  hang?: boolean;
  /** Sent in pieces with no Content-Length, so only counting the bytes can stop it. */
  chunked?: boolean;
};

let server: Server;
let url: string;
let answer: Answer;
const seen: IncomingHttpHeaders[] = [];
let dir: string;
let file: string;
const ORIGINAL = '// the committed module, as it was before the refresh\n';

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    const a = answer(req.headers);
    if (a.hang) return;
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
    if (a.chunked) {
      for (let i = 0; i < 12; i += 1) res.write('x'.repeat(100_000));
    }
    res.end(a.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ip-ranges.json`;
  dir = mkdtempSync(join(tmpdir(), 'auth0-ips-'));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  seen.length = 0;
});

function publish(list: unknown = PUBLISHED) {
  answer = () => ({ body: JSON.stringify(list) });
}

function freshFile(): string {
  file = join(dir, `auth0-outbound-ips-${seen.length}-${Math.random()}.ts`);
  writeFileSync(file, ORIGINAL);
  return file;
}

const NOW = new Date('2026-12-01T13:00:00Z');

describe('npm run refresh:auth0-ips with Auth0’s list served', () => {
  it('rewrites the data module: today’s date, the URL, Auth0’s date and every region', async () => {
    publish();
    const { data, rangesChanged } = await refreshAuth0Ips({ url, file: freshFile(), now: NOW });
    expect(rangesChanged).toBe(true);
    expect(data).toEqual({
      takenOn: '2026-12-01',
      source: url,
      lastUpdatedAt: '2026-11-20T09:30:00Z',
      regions: {
        us: ['174.129.105.183/32', '18.116.79.126/32'],
        eu: ['18.197.9.11/32', '52.28.184.187/32'],
        ca: ['15.222.97.193/32', '3.97.144.31/32'],
      },
    });
    const written = await import(file);
    expect(written.AUTH0_OUTBOUND_IPS).toEqual(data);
  });

  it('asks with no credentials and a JSON accept header', async () => {
    publish();
    await refreshAuth0Ips({ url, file: freshFile(), now: NOW });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.accept).toBe('application/json');
    expect(seen[0]?.authorization).toBeUndefined();
    expect(seen[0]?.cookie).toBeUndefined();
  });

  it('a second run the next day changes only the date, and says no range changed', async () => {
    publish();
    const target = freshFile();
    await refreshAuth0Ips({ url, file: target, now: NOW });
    const before = readFileSync(target, 'utf8');
    const again = await refreshAuth0Ips({ url, file: target, now: new Date('2026-12-02T08:00Z') });
    expect(again.rangesChanged).toBe(false);
    expect(readFileSync(target, 'utf8')).toBe(before.replace('2026-12-01', '2026-12-02'));
  });

  it('names a region field it does not read, such as a future ipv6_cidrs', async () => {
    publish({
      ...PUBLISHED,
      regions: { US: { ipv4_cidrs: ['174.129.105.183/32'], ipv6_cidrs: ['2001:db8::/32'] } },
    });
    const { ignoredFields } = await refreshAuth0Ips({ url, file: freshFile(), now: NOW });
    expect(ignoredFields).toEqual(['regions.US.ipv6_cidrs']);
  });
});

describe('the committed data module', () => {
  it('is exactly what the script writes for its data (it is generated, not hand-edited)', () => {
    expect(readFileSync(DATA_MODULE, 'utf8')).toBe(renderDataModule(AUTH0_OUTBOUND_IPS));
  });
});

describe('when the list cannot be had, the data module is left as it was', () => {
  async function refused(options: { url?: string; timeoutMs?: number } = {}) {
    const target = freshFile();
    const error = await refreshAuth0Ips({ url, file: target, now: NOW, ...options }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RefreshError);
    expect(readFileSync(target, 'utf8')).toBe(ORIGINAL);
    return (error as RefreshError).message;
  }

  it('offline (nothing listens): says it could not download, and why', async () => {
    const message = await refused({ url: await nothingListens() });
    expect(message).toMatch(/could not download Auth0's IP ranges from .* \(ECONNREFUSED\)/);
    expect(message).toMatch(/is the network available/);
  });

  it('no answer within the timeout', async () => {
    answer = () => ({ hang: true });
    expect(await refused({ timeoutMs: 100 })).toMatch(/no answer within 100 ms/);
  });

  it('a redirect is not followed', async () => {
    answer = () => ({ status: 302, headers: { location: `${url}?moved` } });
    expect(await refused()).toMatch(/answered HTTP 302, redirecting to .*\?moved/);
    expect(seen).toHaveLength(1);
  });

  it('an error status', async () => {
    answer = () => ({ status: 503, body: 'busy' });
    expect(await refused()).toMatch(/answered HTTP 503/);
  });

  it('an answer far larger than the list, declared or not', async () => {
    answer = () => ({ body: `{"pad":"${'x'.repeat(1_100_000)}"}` });
    expect(await refused()).toMatch(/larger than 1000000 bytes/);
    answer = () => ({ chunked: true });
    expect(await refused()).toMatch(/larger than 1000000 bytes/);
  });

  it.each([
    ['not JSON', '<html>maintenance</html>', 'the answer is not JSON'],
    ['an array', '[]', 'not a JSON object'],
    ['no date', JSON.stringify({ regions: PUBLISHED.regions }), 'last_updated_at is missing'],
    [
      'no regions',
      JSON.stringify({ last_updated_at: '2026-11-20T09:30:00Z' }),
      'regions is missing',
    ],
    [
      'a region without ranges',
      JSON.stringify({ ...PUBLISHED, regions: { US: { ipv4_cidrs: [] } } }),
      'region US has no ipv4_cidrs',
    ],
    [
      'a CIDR with host bits set',
      JSON.stringify({ ...PUBLISHED, regions: { US: { ipv4_cidrs: ['3.3.3.3/8'] } } }),
      'region US: "3.3.3.3/8" has bits set past its /8 prefix',
    ],
    [
      'something that is not a CIDR',
      JSON.stringify({ ...PUBLISHED, regions: { EU: { ipv4_cidrs: ['1.2.3.4,5.6.7.8'] } } }),
      'region EU: ipv4_cidrs holds something other than CIDRs',
    ],
    [
      'a region code that is not one',
      JSON.stringify({ ...PUBLISHED, regions: { "us'; x": { ipv4_cidrs: ['1.2.3.4/32'] } } }),
      'is not a region code',
    ],
    [
      'the same region twice',
      JSON.stringify({
        ...PUBLISHED,
        regions: { US: PUBLISHED.regions.US, us: PUBLISHED.regions.US },
      }),
      'region us appears twice',
    ],
  ])('%s', async (_, body, message) => {
    answer = () => ({ body });
    expect(await refused()).toContain(message);
  });
});

/** A URL on a port that was free a moment ago: connecting to it is refused. */
async function nothingListens(): Promise<string> {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  return `http://127.0.0.1:${port}/ip-ranges.json`;
}

/** The script as `npm run refresh:auth0-ips` runs it, in its own process. */
function runScript(args: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'tools/refresh-auth0-ips.ts', ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
}

describe('the command line', () => {
  it('takes the URL from AUTH0_IP_RANGES_URL and prints what it wrote', async () => {
    publish();
    const target = freshFile();
    const { code, output } = await runScript([`--out=${target}`], { AUTH0_IP_RANGES_URL: url });
    expect(code).toBe(0);
    expect(output).toMatch(/updated .*: us 2, eu 2, ca 2 \(Auth0's list of 2026-11-20T09:30:00Z\)/);
    expect(readFileSync(target, 'utf8')).toContain(`source: '${url}'`);
  });

  it('offline: exits 1 with a clear message, and the file is as it was', async () => {
    const target = freshFile();
    const { code, output } = await runScript([
      `--url=${await nothingListens()}`,
      `--out=${target}`,
    ]);
    expect(code).toBe(1);
    expect(output).toMatch(
      /refresh:auth0-ips: could not download .*The data module was left as it was/s,
    );
    expect(output).not.toMatch(/at .*\.ts:\d+/);
    expect(readFileSync(target, 'utf8')).toBe(ORIGINAL);
  });
});
