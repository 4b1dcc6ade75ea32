/**
 * Injected faults: the next requests matching a test's predicate get a canned reply (a 429 with
 * retry-after, a 503, ...) instead of their answer, before any other handling, token or route.
 */

export interface FaultReply {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON; defaults to Auth0's error shape for the status. */
  body?: unknown;
}

type Match = (req: { method: string; path: string }) => boolean;

export function createFaults() {
  const faults: Array<{ remaining: number; reply: FaultReply; match: Match }> = [];

  return {
    /** The next `count` requests matching `match` (default: any /api/v2 request) get `reply`. */
    failNext(
      count: number,
      reply: FaultReply,
      match: Match = (req) => req.path.startsWith('/api/v2/'),
    ): void {
      if (count > 0) faults.push({ remaining: count, reply, match });
    },

    /** The reply this request is to get instead of its answer, if a fault is waiting for it. */
    take(req: { method: string; path: string }): FaultReply | undefined {
      const fault = faults.find((f) => f.remaining > 0 && f.match(req));
      if (!fault) return undefined;
      fault.remaining -= 1;
      if (fault.remaining === 0) faults.splice(faults.indexOf(fault), 1);
      return fault.reply;
    },
  };
}
