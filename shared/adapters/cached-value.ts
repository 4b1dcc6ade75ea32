export interface CachedValueOptions {
  /** A value older than this is loaded again before use. */
  readonly maxAgeMs: number;
  /** After a failed load, the last good value is served for this long before trying again. */
  readonly retryAfterMs?: number;
  readonly clock?: () => number;
  readonly onStaleServed?: (error: unknown) => void;
}

/**
 * A value loaded on demand and kept for a while: secrets from Secrets Manager, so that a
 * rotation is picked up within `maxAgeMs` without a redeploy, and a Secrets Manager outage
 * does not stop logins as long as a value was loaded once.
 */
export class CachedValue<T> {
  private value: T | undefined;
  private expiresAt = 0;
  private loadedAt = 0;
  private loading: Promise<T> | undefined;
  private readonly clock: () => number;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly options: CachedValueOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  get(): Promise<T> {
    if (this.value !== undefined && this.clock() < this.expiresAt) {
      return Promise.resolve(this.value);
    }
    this.loading ??= this.refresh().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /**
   * The next `get` loads again (e.g. the CRM refused the cached key) — unless the value is
   * younger than `retryAfterMs`, so a key that is simply wrong cannot turn every login into a
   * Secrets Manager call.
   */
  invalidate(): void {
    const earliest = this.loadedAt + (this.options.retryAfterMs ?? 30_000);
    this.expiresAt = Math.min(this.expiresAt, Math.max(earliest, 0));
  }

  private async refresh(): Promise<T> {
    try {
      const value = await this.load();
      this.value = value;
      this.loadedAt = this.clock();
      this.expiresAt = this.clock() + this.options.maxAgeMs;
      return value;
    } catch (error) {
      if (this.value === undefined) throw error;
      this.options.onStaleServed?.(error);
      this.expiresAt = this.clock() + (this.options.retryAfterMs ?? 30_000);
      return this.value;
    }
  }
}
