import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

/**
 * What a hostile or broken CRM does, on a real socket. Each behaviour is one the login path
 * must survive: the sync service must neither follow, nor buffer, nor wait forever. A status,
 * a record or a delay is a plain reply of crm-server.ts (`CrmReply`), not written again here.
 */
export type HostileBehaviour =
  | { readonly kind: 'redirect'; readonly status: 301 | 302 | 303 | 307 | 308; readonly to: string }
  /** A small gzip body that inflates to `inflatedBytes` of JSON-looking spaces. */
  | { readonly kind: 'gzip-bomb'; readonly inflatedBytes: number }
  /** `totalBytes` sent chunked, with no content-length, as fast as the reader takes them. */
  | { readonly kind: 'stream'; readonly totalBytes: number }
  /** Declares `declared` bytes in content-length and sends `sent` bytes. */
  | { readonly kind: 'lying-length'; readonly declared: number; readonly sent: number }
  /** A byte every `intervalMs`, forever (until the client hangs up). */
  | { readonly kind: 'drip'; readonly intervalMs: number }
  /** Bytes that need not be text (crm-server's `raw` is a string). */
  | { readonly kind: 'bytes'; readonly body: Buffer }
  /** `body` as given, labelled with `content-encoding: <coding>` (encoded or not). */
  | { readonly kind: 'encoded'; readonly coding: string; readonly body: Buffer }
  /** Half of `body` under a content-length for all of it, then the connection reset. */
  | { readonly kind: 'reset-mid-body'; readonly body: Buffer; readonly status?: number }
  /**
   * `body` under its own content-length, then, a moment later on the same kept-alive
   * connection, `forged`: raw bytes that a client reusing the connection would read as the
   * answer to its next request.
   */
  | { readonly kind: 'smuggle'; readonly body: Buffer; readonly forged: string }
  /** `count` chunks of one byte each (chunked framing): many tiny reads for the client. */
  | { readonly kind: 'tiny-chunks'; readonly count: number }
  /**
   * `body` for the first request on a connection; a later request on the same connection is
   * met by closing it unanswered, as a server does that timed the idle connection out just
   * as the client reused it.
   */
  | { readonly kind: 'hang-up-on-reuse'; readonly body: Buffer };

/** How many requests each connection has carried, for 'hang-up-on-reuse'. */
const requestsOnConnection = new WeakMap<object, number>();

const bombs = new Map<number, Buffer>();

/** The gzip of `bytes` spaces, built once per size (a 300 MiB bomb is ~300 KiB). */
export function gzipBomb(bytes: number): Buffer {
  let bomb = bombs.get(bytes);
  if (!bomb) {
    bomb = gzipSync(Buffer.alloc(bytes, 0x20), { level: 9 });
    bombs.set(bytes, bomb);
  }
  return bomb;
}

/** Writes what `behaviour` says to `res`, however ill-formed. */
export function respondHostile(behaviour: HostileBehaviour, res: ServerResponse): void {
  const json = { 'content-type': 'application/json' };
  switch (behaviour.kind) {
    case 'redirect':
      res.writeHead(behaviour.status, { location: behaviour.to, 'content-length': '0' });
      res.end();
      return;
    case 'gzip-bomb': {
      const bomb = gzipBomb(behaviour.inflatedBytes);
      res.writeHead(200, { ...json, 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
      return;
    }
    case 'stream':
      writeChunked(res, behaviour.totalBytes);
      return;
    case 'lying-length':
      res.writeHead(200, { ...json, 'content-length': behaviour.declared });
      // Past the declared length Node refuses to write; the socket carries the lie itself.
      res.flushHeaders();
      res.socket?.write(Buffer.alloc(behaviour.sent, 0x20));
      res.socket?.end();
      return;
    case 'drip': {
      res.writeHead(200, json);
      res.write('{');
      const timer = setInterval(() => res.write(' '), behaviour.intervalMs);
      res.on('close', () => clearInterval(timer));
      return;
    }
    case 'bytes':
      res.writeHead(200, json);
      res.end(behaviour.body);
      return;
    case 'encoded':
      res.writeHead(200, { ...json, 'content-encoding': behaviour.coding });
      res.end(behaviour.body);
      return;
    case 'smuggle':
      res.writeHead(200, { ...json, 'content-length': behaviour.body.length });
      res.flushHeaders();
      res.socket?.write(behaviour.body);
      setTimeout(() => res.socket?.write(behaviour.forged), 20);
      return;
    case 'tiny-chunks': {
      res.writeHead(200, json);
      const byte = Buffer.from(' ');
      let sent = 0;
      const pump = () => {
        while (sent < behaviour.count && !res.destroyed) {
          sent++;
          if (!res.write(byte)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      pump();
      return;
    }
    case 'hang-up-on-reuse': {
      const socket = res.socket;
      const carried = (socket ? (requestsOnConnection.get(socket) ?? 0) : 0) + 1;
      if (socket) requestsOnConnection.set(socket, carried);
      if (carried > 1) {
        socket?.destroy();
        return;
      }
      res.writeHead(200, { ...json, 'content-length': behaviour.body.length });
      res.end(behaviour.body);
      return;
    }
    case 'reset-mid-body':
      res.writeHead(behaviour.status ?? 200, { ...json, 'content-length': behaviour.body.length });
      res.write(behaviour.body.subarray(0, behaviour.body.length >> 1), () =>
        res.socket?.resetAndDestroy(),
      );
      return;
  }
}

/** Writes `total` bytes in 64 KiB chunks, honouring backpressure, without a content-length. */
function writeChunked(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const pump = () => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}
