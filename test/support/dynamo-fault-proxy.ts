import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One DynamoDB request as the proxy sees it: the operation (`PutItem`) and its JSON body. */
export interface DynamoRequest {
  readonly operation: string;
  readonly body: Record<string, any>;
}

/**
 * What to do with a request:
 * - `drop-response`: forward it (DynamoDB applies it), run `meanwhile`, then cut the connection before the
 *   answer arrives, as a network does; the SDK retries the request;
 * - `throttle`: answer 400 ThrottlingException without forwarding;
 * - `reset`: cut the connection without forwarding;
 * - `delay`: forward it after `ms`, as a slow network does (requests sent after it may overtake it).
 */
export type DynamoFault =
  | { readonly kind: 'drop-response'; readonly meanwhile?: () => Promise<void> }
  | { readonly kind: 'throttle' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'delay'; readonly ms: number };

export interface DynamoFaultProxy {
  readonly endpoint: string;
  /** Faults injected so far. */
  readonly injected: DynamoFault['kind'][];
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a DynamoDB endpoint (dynalite, DynamoDB Local) that injects the
 * faults `decide` picks per request: the lost answer after a write, throttling, a reset connection, a delay.
 */
export async function startDynamoFaultProxy(upstream: string, decide: (request: DynamoRequest) => DynamoFault | undefined): Promise<DynamoFaultProxy> {
  const target = new URL(upstream);
  const injected: DynamoFault['kind'][] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const operation = String(request.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      let body: Record<string, any> = {};
      try {
        body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, any>;
      } catch {
        // not JSON: forwarded as it is
      }
      const fault = decide({ operation, body });
      if (fault) injected.push(fault.kind);
      if (fault?.kind === 'throttle') {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput (injected by the test proxy)' }));
        return;
      }
      if (fault?.kind === 'reset') {
        request.socket.destroy();
        return;
      }
      const forward = () => {
        const forwarded = http.request(
          { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
          (upstreamResponse) => {
            if (fault?.kind === 'drop-response') {
              upstreamResponse.resume();
              upstreamResponse.on('end', () => {
                void (fault.meanwhile ?? (async () => undefined))().finally(() => request.socket.destroy());
              });
              return;
            }
            response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
            upstreamResponse.pipe(response);
          },
        );
        forwarded.on('error', () => response.socket?.destroy());
        forwarded.end(raw);
      };
      if (fault?.kind === 'delay') setTimeout(forward, fault.ms);
      else forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
