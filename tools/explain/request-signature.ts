import { sign } from '#shared/domain/signature.ts';

/**
 * The `x-sync-signature` of one request, made as it is sent. The service takes each signature
 * once (a GET's as a forced POST's, docs/sync-api.md), and a signature is the MAC of its second
 * and body only: two GETs in one second, for any users, carry the same header, and the service
 * refuses the second. So a header this process sent is never sent again: the request waits for
 * the next second. A timestamp is always the second it is sent in, never one borrowed ahead or
 * behind, which another caller signing in real time could be using.
 */

/** The headers sent so far: a run sends two or three, a test process a few dozen. */
const sent = new Set<string>();

export interface SigningClock {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

const realTime: SigningClock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export async function signAnew(
  secret: string,
  body: string,
  clock: SigningClock = realTime,
): Promise<string> {
  for (;;) {
    const now = clock.now();
    const header = sign(secret, Math.floor(now / 1000), body);
    if (!sent.has(header)) {
      sent.add(header);
      return header;
    }
    await clock.sleep(1000 - (now % 1000));
  }
}
