import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type LocalBackfillStack, startLocalBackfillStack } from '#local/backfill/stack.ts';
import {
  type FaultReply,
  type ManagementApi,
  type ManagementApiOptions,
  startManagementApi,
} from '#stand-ins/auth0-management-api/server.ts';
import {
  type CrmReply,
  type CrmRequest,
  type CrmServer,
  startCrmServer,
} from '#stand-ins/crm-server.ts';
import { generatedContact } from '#stand-ins/demo-crm.ts';
import { type ServicesThread, startServicesThread } from '#stand-ins/services-thread.ts';

/**
 * Auth0's 429 as it comes: the bucket's x-ratelimit-* headers (reset at the next second), no
 * Retry-After, errorCode too_many_requests (stand-ins/auth0-management-api/rate-limits.ts).
 */
export function headerOnly429(): FaultReply {
  return {
    status: 429,
    headers: {
      'x-ratelimit-limit': '20',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000)),
    },
    body: {
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Global limit has been reached',
      errorCode: 'too_many_requests',
    },
  };
}

/** What the generated demo CRM answers: the generated customer, 404 for any other number. */
export function generatedCrmReply(request: CrmRequest): CrmReply {
  const contact = generatedContact(request.body.phoneNumber ?? '');
  return contact ? { status: 200, body: contact } : { status: 404, body: { error: 'none' } };
}

export interface BackfillEnvironment {
  readonly api: ManagementApi;
  readonly crm: CrmServer;
  readonly stack: LocalBackfillStack;
}

/**
 * The backfill's test environment, fresh for each test: the Management API stand-in, a CRM
 * server answering `crm` (default: the generated customers) and the local backfill stack on
 * dynalite. With `servicesThread`, dynalite runs on a worker thread started once per file.
 * Budgets are high: the tests count calls, not seconds.
 */
export function useBackfillEnvironment(
  options: {
    readonly crm?: (request: CrmRequest) => CrmReply;
    readonly api?: ManagementApiOptions;
    readonly servicesThread?: boolean;
  } = {},
): BackfillEnvironment {
  let services: ServicesThread | undefined;
  let dynamodb: ReturnType<ServicesThread['client']> | undefined;
  let current: BackfillEnvironment | undefined;
  if (options.servicesThread) {
    beforeAll(async () => {
      services = await startServicesThread();
      dynamodb = services.client();
    });
    afterAll(async () => {
      dynamodb?.destroy();
      await services?.close();
    });
  }
  beforeEach(async () => {
    const api = await startManagementApi(options.api);
    const crm = await startCrmServer();
    crm.answer(options.crm ?? generatedCrmReply);
    const stack = await startLocalBackfillStack({
      api,
      crm: { url: crm.url, apiKey: 'test-backfill-crm-key' },
      ...(dynamodb ? { dynamodb } : {}),
      crmRatePerSecond: 100_000,
      auth0WritesPerSecond: 100_000,
      // The longest CRM budget the service accepts: on a loaded 2-core machine a lookup that
      // outran the default 2.5 s was retried, and "one lookup per user" counted it twice.
      env: { CRM_TIMEOUT_MS: '10000', ACTION_TIMEOUT_MS: '15000' },
    });
    current = { api, crm, stack };
  });
  afterEach(async () => {
    await current?.stack.close();
    await current?.crm.close();
    await current?.api.close();
    current = undefined;
  });
  const now = () => {
    if (!current) throw new Error('the backfill environment exists inside a test only');
    return current;
  };
  return {
    get api() {
      return now().api;
    },
    get crm() {
      return now().crm;
    },
    get stack() {
      return now().stack;
    },
  };
}
