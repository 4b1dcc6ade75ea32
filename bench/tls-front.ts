import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';

/**
 * HTTPS in front of the local stand-ins (dynalite, Secrets Manager, the CRM), which speak plain
 * HTTP. Deployed, every call of the login path is HTTPS: its cold start pays a TLS handshake per
 * service, and an http:// endpoint takes code paths the Lambda never takes (the AWS SDK imports
 * node:http lazily, for http:// only). One self-signed P-256 certificate for 127.0.0.1, made
 * with openssl and trusted through NODE_EXTRA_CA_CERTS: the handshakes' CPU, not the network's
 * round trips, DNS, longer RSA chains, nor the smaller CPU share of a 512 MB Lambda.
 */
export interface TlsFronts {
  /** The certificate file, for NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
  /** An https:// URL that reaches `httpUrl`, path kept. */
  front(httpUrl: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTlsFronts(dir: string): Promise<TlsFronts> {
  const keyFile = join(dir, 'tls-key.pem');
  const caFile = join(dir, 'tls-cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      caFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile);
  const cert = readFileSync(caFile);
  const servers: Server[] = [];
  return {
    caFile,
    async front(httpUrl) {
      const target = new URL(httpUrl);
      const server = createServer({ key, cert }, (socket) => {
        const upstream = connect(Number(target.port), target.hostname);
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
        socket.on('close', () => upstream.destroy());
        upstream.on('close', () => socket.destroy());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      const url = new URL(httpUrl);
      url.protocol = 'https:';
      url.port = String((server.address() as AddressInfo).port);
      return url.toString().replace(/\/$/, httpUrl.endsWith('/') ? '/' : '');
    },
    async close() {
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}
