import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultKind = 'internal-error' | 'slow-down' | 'connection-reset' | 'truncated-body';

export interface FaultyProxy {
  readonly endpoint: string;
  /** Faults injected so far, by kind. */
  readonly injected: Record<FaultKind, number>;
  requests: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of `upstream` that fails a share of requests the way S3 and the
 * network do: 500 InternalError, 503 SlowDown, a reset connection, or a response cut off midway.
 * Seeded, so a failing run can be replayed.
 */
export async function startFaultyProxy(upstream: string, options: { rate: number; seed: number; kinds?: readonly FaultKind[] }): Promise<FaultyProxy> {
  const target = new URL(upstream);
  const kinds = options.kinds ?? ['internal-error', 'slow-down', 'connection-reset', 'truncated-body'];
  let state = options.seed >>> 0;
  const random = () => {
    state = (Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return state / 4294967296;
  };
  const injected: Record<FaultKind, number> = { 'internal-error': 0, 'slow-down': 0, 'connection-reset': 0, 'truncated-body': 0 };
  const proxy: FaultyProxy = { endpoint: '', injected, requests: 0, close: async () => undefined };
  const server = http.createServer((request, response) => {
    proxy.requests += 1;
    const fault = random() < options.rate ? kinds[Math.floor(random() * kinds.length)] : undefined;
    const body: Buffer[] = [];
    request.on('data', (chunk: Buffer) => body.push(chunk));
    request.on('end', () => {
      if (fault === 'internal-error' || fault === 'slow-down') {
        injected[fault] += 1;
        const [status, code] = fault === 'internal-error' ? [500, 'InternalError'] : [503, 'SlowDown'];
        response.writeHead(status, { 'content-type': 'application/xml' });
        response.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test proxy</Message><RequestId>test</RequestId></Error>`);
        return;
      }
      if (fault === 'connection-reset') {
        injected[fault] += 1;
        request.socket.destroy();
        return;
      }
      const forwarded = http.request(
        { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
        (upstreamResponse) => {
          response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
          const length = Number(upstreamResponse.headers['content-length'] ?? 0);
          if (fault === 'truncated-body' && length > 1) {
            injected[fault] += 1;
            let sent = 0;
            upstreamResponse.on('data', (chunk: Buffer) => {
              const room = Math.floor(length / 2) - sent;
              if (room > 0) response.write(chunk.subarray(0, room));
              sent += chunk.length;
              if (sent >= length / 2) response.socket?.destroy();
            });
            return;
          }
          upstreamResponse.pipe(response);
        },
      );
      forwarded.on('error', () => response.socket?.destroy());
      forwarded.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}
