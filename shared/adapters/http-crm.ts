import type { CrmLookup, CrmRecord } from '../domain/ports.ts';
import type { MatchKey } from '../domain/sync-request.ts';
import { beforeDeadline, exchangeWithCrm, statusFailure } from './crm-exchange.ts';

export interface HttpCrmOptions {
  readonly url: string;
  /** Read per call through a cache, so a rotated key is picked up without a redeploy. */
  readonly apiKey: () => Promise<string>;
  /** Covers connect, headers and every byte of the body; keeps the Action's own budget intact. */
  readonly timeoutMs: number;
  /** Called when the CRM refuses the key, e.g. to drop a cached key that was just rotated. */
  readonly onUnauthorized?: () => void;
  /** Cap on the answer, counted on the decoded bytes (after any gzip/deflate/br inflation). */
  readonly maxResponseBytes: number;
  readonly clock?: () => number;
}

/**
 * The generic HTTP CRM (docs/sync-api.md): `POST <url>` with `x-api-key`, body
 * `{"phoneNumber": "<E.164>", "extended": true}`; 200 with an object is a match, 404 is none,
 * anything else is a failure. The CRM is treated as possibly hostile (crm-exchange.ts): no
 * redirect is followed, the answer is capped in bytes and time, and a 429 or 503 reports its
 * Retry-After, for the circuit breaker.
 */
export class HttpCrm implements CrmLookup {
  private readonly clock: () => number;
  private readonly url: URL;

  constructor(private readonly options: HttpCrmOptions) {
    this.clock = options.clock ?? Date.now;
    this.url = new URL(options.url);
  }

  async find(key: MatchKey): Promise<CrmRecord | null> {
    const body =
      key.kind === 'phone'
        ? { phoneNumber: key.e164, extended: true }
        : { email: key.email, extended: true };
    // The deadline starts before the key is read: a Secrets Manager refresh is part of the call.
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const apiKey = await beforeDeadline(this.options.apiKey(), signal);
    const request = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify(body),
      signal,
    } as const;
    return exchangeWithCrm(this.url, request, this.options.maxResponseBytes, async (answer) => {
      if (answer.status === 404) return null;
      const failure = statusFailure(answer, [200], this.clock(), this.options.onUnauthorized);
      if (failure) throw failure;
      return answer.json();
    });
  }
}
