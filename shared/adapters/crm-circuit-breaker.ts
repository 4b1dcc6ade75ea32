import { CrmFailure, type CrmLookup } from '../domain/ports.ts';

export interface CircuitBreakerPolicy {
  /** Consecutive failed calls that open the circuit; 0 never opens it on failures alone. */
  readonly failureThreshold: number;
  /** How long the circuit stays open after `failureThreshold` failures, or a failed probe. */
  readonly cooldownMs: number;
  /** A Retry-After longer than this is cut to it: a hostile CRM may ask for a year. */
  readonly maxRetryAfterMs: number;
}

export type CircuitEvent =
  | {
      readonly state: 'open';
      /** What opened it: the CRM's Retry-After, or consecutive failures. */
      readonly cause: 'retry_after' | 'failures';
      readonly forMs: number;
      readonly httpStatus?: number | undefined;
    }
  | { readonly state: 'closed'; readonly openMs: number };

/**
 * A per-instance circuit breaker in front of the CRM. It opens when the CRM asks for a wait (a
 * 429 or 503 with a Retry-After, or a rate limit the adapter read a wait from) for that long,
 * capped, or after `failureThreshold` failures in a row (for `cooldownMs`). While open, lookups fail at once with `circuit_open`, so logins are
 * answered in milliseconds from what is known instead of each waiting out a CRM that asked us
 * to stay away. After the window one call goes through as a probe (the others still fail
 * fast); its success closes the circuit, its failure keeps it open for another window.
 * `onChange` hears each opening and each closing once, for a log line and a metric.
 */
export class CrmCircuitBreaker implements CrmLookup {
  private failures = 0;
  private openUntil = 0;
  private openedAt = 0;
  private probing = false;
  private readonly clock: () => number;

  constructor(
    private readonly crm: CrmLookup,
    private readonly policy: CircuitBreakerPolicy,
    private readonly onChange: (event: CircuitEvent) => void = () => {},
    clock?: () => number,
  ) {
    this.clock = clock ?? Date.now;
  }

  isAvailable(): boolean {
    return this.openedAt === 0 || (this.clock() >= this.openUntil && !this.probing);
  }

  async find(key: Parameters<CrmLookup['find']>[0]) {
    const open = this.openedAt !== 0;
    if (open && (this.clock() < this.openUntil || this.probing)) {
      throw new CrmFailure('circuit_open');
    }
    this.probing = open;
    try {
      const record = await this.crm.find(key);
      this.succeeded(open);
      return record;
    } catch (error) {
      if (error instanceof CrmFailure) this.failed(error, open);
      throw error;
    } finally {
      if (open) this.probing = false;
    }
  }

  private succeeded(wasProbe: boolean): void {
    this.failures = 0;
    // A call that left before the circuit opened proves nothing about the CRM's wish to wait.
    if (!wasProbe || this.openedAt === 0) return;
    const openMs = this.clock() - this.openedAt;
    this.openedAt = 0;
    this.openUntil = 0;
    this.onChange({ state: 'closed', openMs });
  }

  private failed(error: CrmFailure, wasProbe: boolean): void {
    this.failures++;
    const asked = error.retryAfterMs;
    // A CRM's own wait: a 429's or 503's Retry-After, or a limit it named otherwise (HubSpot's
    // daily limit, Salesforce's 403 REQUEST_LIMIT_EXCEEDED).
    if (asked !== undefined && (error.reason === 'rate_limited' || error.httpStatus === 503)) {
      this.open('retry_after', Math.min(asked, this.policy.maxRetryAfterMs), error.httpStatus);
    } else if (wasProbe) {
      this.open('probe_failed', this.policy.cooldownMs, error.httpStatus);
    } else if (this.policy.failureThreshold > 0 && this.failures >= this.policy.failureThreshold) {
      this.open('failures', this.policy.cooldownMs, error.httpStatus);
    }
  }

  private open(cause: 'retry_after' | 'failures' | 'probe_failed', forMs: number, status?: number) {
    const now = this.clock();
    const until = now + forMs;
    // Concurrent failures of calls made before it opened only ever lengthen the window.
    if (this.openedAt !== 0 && until <= this.openUntil) return;
    const wasClosed = this.openedAt === 0;
    this.openUntil = until;
    // A failed probe or a late Retry-After lengthens a window that is already open: no news.
    if (!wasClosed || cause === 'probe_failed') return;
    this.openedAt = now;
    this.onChange({ state: 'open', cause, forMs, httpStatus: status });
  }
}
