import type { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import { embeddedMetrics } from '#shared/composition/metrics.ts';
import { SyncApiError } from '#shared/domain/errors.ts';
import type { HttpResult } from './http.ts';
import type { ParsedEvent } from './middleware.ts';

/**
 * What a request's log line says, filled in as the request goes: by the router (the route),
 * the sync handler (user, match key, outcome) and, for errors, by the error itself.
 */
export interface RequestTrace {
  readonly startedAt: number;
  /** The route's template (`/v1/users/{user_id}`), never the path as typed. */
  route?: string;
  /** Only once the signature is verified and the id is well-formed (app.ts). */
  userId?: string | undefined;
  matchKey?: string;
  forced?: boolean;
  /**
   * A signature used before: a forced request is answered unforced, a GET is refused (401).
   */
  replayed?: boolean;
  /**
   * The ledger of used signatures could not be asked: a forced request was answered unforced,
   * a GET failed closed (500, with the ledger's `fault`).
   */
  replayCheck?: 'failed';
  /**
   * `synced`, `cached`, `not_found`, `ambiguous_match` (answered not_found: the CRM held
   * several records for the key), `stale`, `health` or `explained`; an error's code otherwise. An explanation is never counted as a sync status: the login metrics stay logins.
   */
  outcome?: string;
  /** What GET /v1/users/{user_id} reported (`synced`, `not_found`, `stale`, `failed`). */
  userStatus?: string;
  crmMs?: number | undefined;
  /** Why the CRM gave no answer (stale, crm_unavailable). */
  crmFault?: string | undefined;
  /** How many CRM records matched, for `ambiguous_match`. */
  crmMatches?: number | undefined;
  /** Counts of what the request did (POST /v1/crm-events), each a field and a Count metric. */
  counts?: Readonly<Record<string, { readonly field: string; readonly value: number }>>;
}

/**
 * An error's code, but for an unknown route: the contract's `not_found` is also the name of a
 * sync status (the CRM has no record), and the two must not share one metric.
 */
function outcomeOfError(error: SyncApiError): string {
  return error.code === 'not_found' ? 'route_not_found' : error.code;
}

/**
 * Every request ends in exactly one log line, `request`, with its outcome code — the sync
 * status, or the contract's error code (`invalid_signature`, `throttled`, …) — its HTTP
 * status, the correlation id and, when known, the user id. The line carries a CloudWatch
 * metric per outcome (`Requests` by `Outcome`, EMF), so an alarm can watch any code, such as
 * `invalid_signature` after a broken secret rotation. Never a phone number, email, secret,
 * signature, body or unknown path.
 */
export function requestLog(
  logger: Logger,
  clock: () => number,
  /** The metric counting requests by outcome: each API its own, so alarms do not mix. */
  requestsMetric = 'Requests',
): middy.MiddlewareObj<ParsedEvent, HttpResult> {
  const write = (request: middy.Request<ParsedEvent, HttpResult>) => {
    const trace = request.event.trace;
    if (trace === undefined) return;
    const error = request.error;
    const outcome =
      error instanceof SyncApiError
        ? outcomeOfError(error)
        : error
          ? 'internal_error'
          : trace.outcome;
    const crmFault = error instanceof SyncApiError ? error.detail : trace.crmFault;
    const crmMs = trace.crmMs;
    const counts = Object.entries(trace.counts ?? {});
    logger.info('request', {
      outcome: outcome ?? 'unknown',
      http_status: request.response?.statusCode ?? 500,
      ms: clock() - trace.startedAt,
      ...(trace.route === undefined ? {} : { route: trace.route }),
      ...(trace.userId === undefined ? {} : { user_id: trace.userId }),
      ...(trace.matchKey === undefined ? {} : { match_key: trace.matchKey }),
      ...(trace.userStatus === undefined ? {} : { user_status: trace.userStatus }),
      ...(trace.forced === undefined ? {} : { forced: trace.forced }),
      ...(trace.replayed ? { replayed: true } : {}),
      ...(trace.replayCheck ? { replay_check: trace.replayCheck } : {}),
      ...(crmMs === undefined ? {} : { crm_ms: crmMs }),
      ...(crmFault === undefined ? {} : { crm_fault: crmFault }),
      ...(trace.crmMatches === undefined ? {} : { crm_matches: trace.crmMatches }),
      // A fault of ours is named by its class only: messages of SDK errors carry request details.
      ...(error && !(error instanceof SyncApiError) ? { fault: error.name ?? 'unknown' } : {}),
      ...Object.fromEntries(counts.map(([, { field, value }]) => [field, value])),
      ...embeddedMetrics(
        { Outcome: outcome ?? 'unknown' },
        {
          [requestsMetric]: { value: 1, unit: 'Count' },
          ...(crmMs === undefined ? {} : { CrmLatency: { value: crmMs, unit: 'Milliseconds' } }),
          ...Object.fromEntries(
            counts.map(([metric, { value }]) => [metric, { value, unit: 'Count' as const }]),
          ),
        },
      ),
    });
  };
  return {
    before: (request) => {
      request.event.trace = { startedAt: clock() };
    },
    after: write,
    onError: write,
  };
}
