// The web server of `serve` (Node's http module): a fixed map from URL paths to in-memory files,
// nothing else. The path is looked up exactly as the request sends it (no decoding, no joining onto a
// folder), so '..' in any spelling or encoding simply finds nothing: 404. Only GET and HEAD are
// answered; the server accepts no uploads (images stay in the browser), so request bodies are never
// read and need no size limit. On a loopback address, requests must name a loopback host: a web
// page elsewhere cannot read the weights or the demo image through DNS rebinding.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Asset {
  contentType: string;
  body: Uint8Array;
}

export type Routes = ReadonlyMap<string, Asset>;

// The page loads only its own scripts, styles and data; nothing may frame it.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The host of a Host header, without its port. */
function hostName(header: string): string {
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':')[0];
}

/** With `loopbackOnly`, requests whose Host header names another host are refused (403). */
export function createPageServer(routes: Routes, loopbackOnly: boolean): Server {
  return createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (loopbackOnly && !LOOPBACK_HOSTS.has(hostName(request.headers.host ?? '').toLowerCase())) {
      response.writeHead(403, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
      response.end('forbidden: open the page as localhost, 127.0.0.1 or [::1]\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...SECURITY_HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      response.end('method not allowed: this server only sends files\n');
      return;
    }
    const asset = routes.get(path);
    if (!asset) {
      response.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
      response.end('not found\n');
      return;
    }
    response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.contentType, 'content-length': asset.body.byteLength });
    response.end(request.method === 'HEAD' ? undefined : asset.body);
  });
}

/** Starts listening; resolves with the address and port bound (port 0: any free one), rejects with a readable message. */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use: choose another with --port`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new Error(`--host ${host} is not an address of this machine`));
      else if (e.code === 'EACCES') reject(new Error(`no permission to listen on port ${port}: choose a port above 1023 with --port`));
      else reject(new Error(`cannot listen on ${host}:${port}: ${e.message}`));
    });
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}
