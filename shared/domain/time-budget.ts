/**
 * How the login path's timeouts fit inside one another. The Action gives the whole call
 * `actionTimeoutMs` (its SYNC_TIMEOUT_MS); out of that:
 *
 *   network (Auth0 → API Gateway → Lambda and back)     NETWORK_ALLOWANCE_MS
 *   stamp read, lease and stamp write                    STORE_ALLOWANCE_MS
 *   the CRM call, connect to last byte                   crmTimeoutMs
 *
 * - The lease outlives the CRM call by LEASE_MARGIN_MS, so a lookup still in flight is never
 *   doubled by another instance: the margin covers a lease write and a stamp write that are
 *   slow but within their bound (functions/sync/aws-clients.ts: two tries of 400 ms each).
 *   STORE_ALLOWANCE_MS is what those take on a good day, not at worst.
 * - A request that finds another instance's lookup in flight waits for its answer until the
 *   caller stops listening (`answerWithinMs` after it arrived). Because the CRM call fits in
 *   that budget, a waiter always gets the winner's answer when the CRM answers in time.
 */
export const NETWORK_ALLOWANCE_MS = 300;
export const STORE_ALLOWANCE_MS = 200;
export const LEASE_MARGIN_MS = 2_000;

export interface LoginTimeBudget {
  readonly leaseMs: number;
  readonly answerWithinMs: number;
}

export class TimeBudgetError extends Error {
  override readonly name = 'TimeBudgetError';
}

/** The lease and the waiters' budget, or a TimeBudgetError when the timeouts cannot all hold. */
export function loginTimeBudget(crmTimeoutMs: number, actionTimeoutMs: number): LoginTimeBudget {
  const needed = crmTimeoutMs + NETWORK_ALLOWANCE_MS + STORE_ALLOWANCE_MS;
  if (needed > actionTimeoutMs) {
    throw new TimeBudgetError(
      `the CRM timeout (${crmTimeoutMs} ms) plus ${NETWORK_ALLOWANCE_MS + STORE_ALLOWANCE_MS} ms for the network and DynamoDB must fit in the Action's timeout (${actionTimeoutMs} ms): lower the CRM timeout to at most ${actionTimeoutMs - NETWORK_ALLOWANCE_MS - STORE_ALLOWANCE_MS} ms or raise the Action's timeout to at least ${needed} ms`,
    );
  }
  return {
    leaseMs: crmTimeoutMs + LEASE_MARGIN_MS,
    answerWithinMs: actionTimeoutMs - NETWORK_ALLOWANCE_MS,
  };
}
