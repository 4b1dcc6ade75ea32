import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildAction } from '#infra/action-bundle.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import {
  loadBuiltAction,
  simulateLogin,
  type TenantUser,
} from '#stand-ins/auth0-action-runtime.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

/**
 * The Action's log line, from the built file: the API's request id whenever an answer came,
 * and the contract's error code of a refusal, read from a bounded part of its body.
 */

let action: ReturnType<typeof loadBuiltAction>;
let stack: SyncHarness;
let api: Awaited<ReturnType<typeof serveApiGateway>>;
let secrets: Record<string, string>;
const answeredIds: string[] = [];
let seq = 0;

beforeAll(async () => {
  const built = await buildAction('node_modules/.cache/action-log-line/post-login.js');
  action = loadBuiltAction(built.path);
  stack = await startSyncHarness({ realTime: true });
  api = await serveApiGateway(async (event, context) => {
    const result = await stack.handler(event, context);
    answeredIds.push(String(result.headers?.['x-request-id']));
    return result;
  });
  secrets = { SYNC_API_URL: `${api.url}/v1/sync`, SYNC_SIGNING_SECRET: TEST_SECRETS.signing };
});
afterAll(async () => {
  await api.close();
  await stack.close();
});

const ada = (): TenantUser => ({
  user_id: `sms|log-line-${++seq}`,
  phone_number: ADA_LOVELACE.phone,
  app_metadata: {},
});

/** One login; the Action's log lines, parsed. */
async function login(extra: Record<string, string> = {}) {
  const lines: Record<string, unknown>[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((text: unknown) => {
    lines.push(JSON.parse(String(text)) as Record<string, unknown>);
  });
  try {
    const result = await simulateLogin(action, ada(), { secrets: { ...secrets, ...extra } });
    expect(result.threw).toBeUndefined();
    expect(result.timedOut).toBe(false);
    return { result, lines };
  } finally {
    spy.mockRestore();
  }
}

/** A server in the sync API's place, answering every request with `reply`. */
async function withServer(
  reply: (res: ServerResponse) => void,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = createServer((_req, res) => reply(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/sync`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('the log line of a login that got an answer', () => {
  it('synced: carries the request id the API answered with', async () => {
    const { lines } = await login();
    expect(lines).toEqual([
      expect.objectContaining({ outcome: 'synced', request_id: answeredIds.at(-1) }),
    ]);
    expect(lines[0]?.error_code).toBeUndefined();
  });

  it('the CRM down for a new user: http_503 with error_code crm_unavailable and the request id', async () => {
    stack.crm.answer(() => ({ status: 500 }));
    try {
      const { lines } = await login();
      expect(lines).toEqual([
        expect.objectContaining({
          outcome: 'failed',
          reason: 'http_503',
          error_code: 'crm_unavailable',
          request_id: answeredIds.at(-1),
        }),
      ]);
    } finally {
      stack.crm.answer(undefined);
    }
  });

  it('a wrong signing secret: http_401 with error_code invalid_signature', async () => {
    const { lines } = await login({ SYNC_SIGNING_SECRET: 'wrong' });
    expect(lines[0]).toMatchObject({ reason: 'http_401', error_code: 'invalid_signature' });
  });

  it('no answer at all: neither request id nor error code', async () => {
    const { lines } = await login({ SYNC_API_URL: 'http://127.0.0.1:9/v1/sync' });
    expect(lines[0]).toMatchObject({ outcome: 'failed', reason: 'network' });
    expect(lines[0]).not.toHaveProperty('request_id');
    expect(lines[0]).not.toHaveProperty('error_code');
  });
});

describe('an error body it cannot use gives no code, and never holds the login', () => {
  const json503 = (res: ServerResponse, headers: Record<string, string> = {}) =>
    res.writeHead(503, { 'content-type': 'application/json', 'x-request-id': 'rid-1', ...headers });

  it('not JSON (a proxy error page)', () =>
    withServer(
      (res) => {
        res.writeHead(502, { 'content-type': 'text/html', 'x-request-id': 'rid-2' });
        res.end('<html>Bad Gateway</html>');
      },
      async (url) => {
        const { lines } = await login({ SYNC_API_URL: url });
        expect(lines[0]).toMatchObject({ reason: 'http_502', request_id: 'rid-2' });
        expect(lines[0]).not.toHaveProperty('error_code');
      },
    ));

  it('a 200 that is not JSON is invalid_response, with its request id (not a network error)', () =>
    withServer(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/html', 'x-request-id': 'rid-200' });
        res.end('<html>maintenance</html>');
      },
      async (url) => {
        const { lines } = await login({ SYNC_API_URL: url });
        expect(lines[0]).toMatchObject({
          outcome: 'failed',
          reason: 'invalid_response',
          request_id: 'rid-200',
        });
      },
    ));

  it('API Gateway\'s own 429 {"message": …}: no code', () =>
    withServer(
      (res) => {
        res.writeHead(429, { 'content-type': 'application/json' });
        res.end('{"message":"Too Many Requests"}');
      },
      async (url) => {
        const { lines } = await login({ SYNC_API_URL: url });
        expect(lines[0]).toMatchObject({ reason: 'http_429' });
        expect(lines[0]).not.toHaveProperty('error_code');
      },
    ));

  it("a code that is not of the contract's form (it would go into the log) is left out", () =>
    withServer(
      (res) => {
        json503(res);
        res.end(JSON.stringify({ error: { code: ADA_LOVELACE.phone.slice(1) } }));
      },
      async (url) => {
        const { lines } = await login({ SYNC_API_URL: url });
        expect(lines[0]).not.toHaveProperty('error_code');
      },
    ));

  it('a body declared larger than 4 KiB is not read', () =>
    withServer(
      (res) => {
        const body = JSON.stringify({ error: { code: 'crm_unavailable', pad: 'x'.repeat(8_000) } });
        json503(res, { 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      },
      async (url) => {
        const { lines } = await login({ SYNC_API_URL: url });
        expect(lines[0]).toMatchObject({ reason: 'http_503', request_id: 'rid-1' });
        expect(lines[0]).not.toHaveProperty('error_code');
      },
    ));

  it('an endless chunked body: the read stops at 4 KiB, long before SYNC_TIMEOUT_MS', async () => {
    let hungUp = false;
    await withServer(
      (res) => {
        json503(res);
        res.write('{"error":{"code":"crm_unavailable","pad":"');
        const timer = setInterval(() => res.write('x'.repeat(1024)), 5);
        res.on('close', () => {
          clearInterval(timer);
          hungUp = true;
        });
      },
      async (url) => {
        // 15 s, the Action's longest: a read waiting for the body's end would outlast the test.
        const { lines } = await login({ SYNC_API_URL: url, SYNC_TIMEOUT_MS: '15000' });
        expect(lines[0]).toMatchObject({ reason: 'http_503' });
        expect(lines[0]).not.toHaveProperty('error_code');
        await vi.waitFor(() => expect(hungUp).toBe(true));
      },
    );
  });

  it('a body that never comes: cut off by SYNC_TIMEOUT_MS, the login goes on', () =>
    withServer(
      (res) => {
        json503(res);
        res.flushHeaders();
      },
      async (url) => {
        const { result, lines } = await login({ SYNC_API_URL: url, SYNC_TIMEOUT_MS: '300' });
        expect(result.denied).toBeUndefined();
        expect(lines[0]).toMatchObject({ outcome: 'failed', reason: 'http_503' });
        expect(lines[0]).not.toHaveProperty('error_code');
      },
    ));
});
