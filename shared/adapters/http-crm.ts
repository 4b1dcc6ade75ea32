import { CrmFailure, type CrmLookup } from '../domain/ports.ts';
import type { MatchKey } from '../domain/sync-request.ts';

export interface HttpCrmOptions {
  readonly url: string;
  /** Read per call through a cache, so a rotated key is picked up without a redeploy. */
  readonly apiKey: () => Promise<string>;
  /** Covers connect, headers and body; keeps the Action's own budget intact. */
  readonly timeoutMs: number;
  /** Called when the CRM refuses the key, e.g. to drop a cached key that was just rotated. */
  readonly onUnauthorized?: () => void;
  readonly maxResponseBytes?: number;
}

/**
 * The generic HTTP CRM of sync-api.md: `POST <url>` with `x-api-key`, body
 * `{"phoneNumber": "<E.164>", "extended": true}`; 200 with an object is a match, 404 is none,
 * anything else is a failure. What the CRM sent never reaches an error message or a log.
 */
export class HttpCrm implements CrmLookup {
  private readonly maxResponseBytes: number;

  constructor(private readonly options: HttpCrmOptions) {
    this.maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
  }

  async find(key: MatchKey): Promise<Readonly<Record<string, unknown>> | null> {
    const body =
      key.kind === 'phone'
        ? { phoneNumber: key.e164, extended: true }
        : { email: key.email, extended: true };
    const apiKey = await this.options.apiKey();
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify(body),
        signal,
      });
    } catch {
      throw new CrmFailure(signal.aborted ? 'timeout' : 'network');
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      if (response.status === 401 || response.status === 403) {
        this.options.onUnauthorized?.();
        throw new CrmFailure('auth', response.status);
      }
      throw new CrmFailure('http_status', response.status);
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > this.maxResponseBytes) {
      await response.body?.cancel();
      throw new CrmFailure('invalid_response');
    }
    let text: string;
    try {
      text = await response.text();
    } catch {
      throw new CrmFailure(signal.aborted ? 'timeout' : 'network');
    }
    if (text.length > this.maxResponseBytes) throw new CrmFailure('invalid_response');
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      throw new CrmFailure('invalid_response');
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new CrmFailure('invalid_response');
    }
    return record as Record<string, unknown>;
  }
}
