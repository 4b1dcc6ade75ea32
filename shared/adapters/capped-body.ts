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
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(chunks, total);
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
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
