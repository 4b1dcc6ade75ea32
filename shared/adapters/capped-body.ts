/**
 * A response body read as a stream up to `maxBytes`, whatever `content-length` claims: the one
 * bounded read of every HTTP answer we did not write ourselves (the CRM, Auth0's published
 * ranges, the sync API as an operator's tool sees it). Past the cap the stream is cancelled,
 * so the other side stops sending, and `undefined` says "too large". A failure of the stream
 * itself (a reset, an abort) is thrown as the reader threw it; the caller names it.
 */
export async function readCappedBody(
  response: Response,
  maxBytes: number,
): Promise<Buffer | undefined> {
  if (response.body === null) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const body = new GrowingBuffer(maxBytes);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return body.bytes();
      if (!body.append(value)) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Bytes as UTF-8 text, or `undefined` when they are not UTF-8 (no replacement characters). */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * A body's bytes in one buffer that doubles as it fills, up to the cap: every bounded read here
 * (readCappedBody, and bounded-http.ts's for the CRM). Keeping each chunk
 * instead would let a server that sends a million one-byte chunks make a 1 MiB cap cost
 * hundreds of megabytes of Buffer objects.
 */
export class GrowingBuffer {
  private buffer: Buffer;
  private length = 0;

  constructor(private readonly maxBytes: number) {
    this.buffer = Buffer.allocUnsafe(Math.min(maxBytes, 16 * 1024));
  }

  /** False once the bytes would pass the cap (nothing is kept of that chunk). */
  append(chunk: Uint8Array): boolean {
    const needed = this.length + chunk.length;
    if (needed > this.maxBytes) return false;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(
        Math.min(this.maxBytes, Math.max(needed, this.buffer.length * 2)),
      );
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.length);
    this.length = needed;
    return true;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
