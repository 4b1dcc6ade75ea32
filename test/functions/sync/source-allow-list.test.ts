import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack } from '#local/stack.ts';
import { ConfigError, loadSyncServiceConfig } from '#shared/config.ts';
import { sign } from '#shared/domain/signature.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import { lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { ADA_LOVELACE, GRACE_HOPPER } from '#stand-ins/demo-data.ts';
import { captureLogLines } from '#test/support/log-lines.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import {
  event,
  type InvokeOptions,
  type SyncHarness,
  startSyncHarness,
} from '#test/support/sync-harness.ts';

const ALLOWED = '192.0.2.0/24, 2001:db8::/32';
const REFUSED_IP = '203.0.113.77';

let h: SyncHarness;
let open: SyncHarness;
let userSeq = 0;
const ada = () => ({ body: { user_id: `sms|src-${++userSeq}`, phone_number: ADA_LOVELACE.phone } });

beforeAll(async () => {
  h = await startSyncHarness({ env: { ALLOWED_SOURCE_IPS: ALLOWED } });
  open = await startSyncHarness();
});
afterAll(async () => {
  await h.close();
  await open.close();
});

/** The request as API Gateway hands it over when the TCP peer was `sourceIp`. */
async function from(sourceIp: string | undefined, opts: InvokeOptions = {}, harness = h) {
  const e = event(opts, harness.clock.now);
  const http = e.requestContext.http as { sourceIp?: string };
  if (sourceIp === undefined) delete http.sourceIp;
  else http.sourceIp = sourceIp;
  const result = await harness.handler(e, lambdaContext({ functionName: 'crm-sync-test' }));
  return {
    status: result.statusCode,
    body: result.body ? JSON.parse(result.body) : undefined,
    headers: (result.headers ?? {}) as Record<string, string>,
  };
}

describe('a caller outside ALLOWED_SOURCE_IPS', () => {
  it('with a bad signature is told 403 forbidden_source, not 401: the list is checked first', async () => {
    const res = await from(REFUSED_IP, { ...ada(), secret: 'not-the-signing-secret' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden_source');
    expect(res.body.error.message).toMatch(/ALLOWED_SOURCE_IPS/);
    expect(res.body.error.message).not.toContain(REFUSED_IP);
  });

  it('with a correctly signed request is refused too, and the CRM is never asked', async () => {
    const asked = h.crm.requests.length;
    const res = await from(REFUSED_IP, ada());
    expect(res.status).toBe(403);
    expect(h.crm.requests.length).toBe(asked);
  });

  it('is refused before the body is read: an oversized or broken body changes nothing', async () => {
    const huge = await from(REFUSED_IP, { rawBody: 'x'.repeat(20_000) });
    const broken = await from(REFUSED_IP, {
      rawBody: '{not json',
      headers: { 'content-type': 'x' },
    });
    expect([huge.status, huge.body.error.code]).toEqual([403, 'forbidden_source']);
    expect([broken.status, broken.body.error.code]).toEqual([403, 'forbidden_source']);
  });

  it('is refused on /v1/health and on unknown paths too: it learns nothing of the service', async () => {
    const health = await from(REFUSED_IP, { method: 'GET', path: '/v1/health', secret: null });
    const unknown = await from(REFUSED_IP, { method: 'GET', path: '/admin', secret: null });
    expect(health.status).toBe(403);
    expect(unknown.status).toBe(403);
  });

  it('cannot talk its way in with X-Forwarded-For or X-Real-IP naming an allowed address', async () => {
    const res = await from(REFUSED_IP, {
      ...ada(),
      headers: {
        'x-forwarded-for': '192.0.2.10',
        'x-real-ip': '192.0.2.10',
        forwarded: 'for=192.0.2.10',
      },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden_source');
  });

  it('and a request with no source address at all is refused (fail closed)', async () => {
    expect((await from(undefined, ada())).status).toBe(403);
  });

  it('ends in one log line with outcome forbidden_source and its metric, never the address', async () => {
    const { result, lines } = await captureLogLines(() => from(REFUSED_IP, ada()));
    const requests = lines.filter((l) => l.message === 'request');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      outcome: 'forbidden_source',
      http_status: 403,
      Outcome: 'forbidden_source',
      Requests: 1,
      correlation_id: result.headers['x-request-id'],
    });
    // Not the user either: nothing of the body is read from a refused network.
    expect(requests[0]?.user_id).toBeUndefined();
    expect(JSON.stringify(lines)).not.toContain(REFUSED_IP);
  });
});

describe('a caller inside ALLOWED_SOURCE_IPS', () => {
  it('proceeds to the sync as before, from IPv4, IPv4-mapped IPv6 and IPv6', async () => {
    for (const ip of ['192.0.2.10', '::ffff:192.0.2.11', '2001:db8:5::1']) {
      const res = await from(ip, ada());
      expect([ip, res.status, res.body.crm_id]).toEqual([ip, 200, ADA_LOVELACE.id]);
    }
    const health = await from('192.0.2.10', { method: 'GET', path: '/v1/health', secret: null });
    expect(health.status).toBe(200);
  });

  it('still needs a good signature: the list narrows who may try, it admits no one', async () => {
    const res = await from('192.0.2.10', { ...ada(), secret: 'not-the-signing-secret' });
    expect([res.status, res.body.error.code]).toEqual([401, 'invalid_signature']);
  });
});

describe('without ALLOWED_SOURCE_IPS', () => {
  it('every network may call, as before the setting existed', async () => {
    const body = { user_id: 'sms|anywhere', phone_number: GRACE_HOPPER.phone };
    for (const ip of [REFUSED_IP, '2001:db8:ffff::9', '::ffff:10.0.0.1']) {
      expect((await from(ip, { body }, open)).status).toBe(200);
    }
  });

  it('an empty value counts as unset, as for every other setting', () => {
    expect(loadSyncServiceConfig(settings({ ALLOWED_SOURCE_IPS: ' ' })).allowedSources).toBe(
      undefined,
    );
  });
});

function settings(extra: Record<string, string>) {
  return {
    TABLE_NAME: 'stamps',
    SYNC_SIGNING_SECRET: TEST_SECRETS.signing,
    CRM_URL: 'http://127.0.0.1:9/crm',
    CRM_API_KEY: TEST_SECRETS.crmApiKey,
    ...extra,
  };
}

describe('a wrong ALLOWED_SOURCE_IPS stops the service at start', () => {
  it.each([
    ['10.0.0.0/33', '"10.0.0.0/33" is not a CIDR'],
    ['10.1.0.0/8', 'has bits set past its /8 prefix'],
    ['auth0:mars', '"auth0:mars" is not an Auth0 region'],
    ['192.0.2.1,,192.0.2.2', 'empty entry'],
  ])('%j: the error names ALLOWED_SOURCE_IPS and the entry', (value, message) => {
    const load = () => loadSyncServiceConfig(settings({ ALLOWED_SOURCE_IPS: value }));
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`Invalid configuration: ALLOWED_SOURCE_IPS: `);
    expect(load).toThrow(message);
  });
});

/** POST /v1/sync over a real socket, signed as the Action signs it. */
async function postSync(url: string, secret: string, now = Date.now()) {
  const text = JSON.stringify({ user_id: 'sms|socket', phone_number: ADA_LOVELACE.phone });
  const response = await fetch(`${url}/v1/sync`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sync-signature': sign(secret, Math.floor(now / 1000), text),
    },
    body: text,
  });
  const body = (await response.json()) as { crm_id?: string; error?: { code: string } };
  return { status: response.status, body };
}

describe('npm start honours ALLOWED_SOURCE_IPS (the local API Gateway passes the socket peer)', () => {
  const stackWith = (list: string) =>
    startLocalStack(
      { ALLOWED_SOURCE_IPS: list, SYNC_SIGNING_SECRET: TEST_SECRETS.signing, LOG_LEVEL: 'WARN' },
      { persist: false, port: 0 },
    );

  it('127.0.0.1 listed: a local caller is answered', async () => {
    const stack = await stackWith('127.0.0.1');
    try {
      const res = await postSync(stack.url, stack.secret);
      expect([res.status, res.body.crm_id]).toEqual([200, ADA_LOVELACE.id]);
    } finally {
      await stack.close();
    }
  });

  it('only 10.0.0.0/8 listed: the same local caller is refused with 403 forbidden_source', async () => {
    const stack = await stackWith('10.0.0.0/8');
    try {
      const res = await postSync(stack.url, stack.secret);
      expect([res.status, res.body.error?.code]).toEqual([403, 'forbidden_source']);
    } finally {
      await stack.close();
    }
  });

  it('on a dual-stack socket the peer is ::ffff:127.0.0.1, and 127.0.0.1 still matches it', async () => {
    const local = await startSyncHarness({ env: { ALLOWED_SOURCE_IPS: '127.0.0.1' } });
    // '::' listens on IPv6 and IPv4 alike; Node reports an IPv4 peer as IPv4-mapped IPv6.
    const api = await serveApiGateway(local.handler, { host: '::' });
    try {
      const { port } = api.server.address() as AddressInfo;
      let peer = '';
      api.server.once('request', (req) => {
        peer = req.socket.remoteAddress ?? '';
      });
      const res = await postSync(`http://127.0.0.1:${port}`, TEST_SECRETS.signing, local.clock.now);
      expect(peer).toBe('::ffff:127.0.0.1');
      expect(res.status).toBe(200);
    } finally {
      await api.close();
      await local.close();
    }
  });
});
