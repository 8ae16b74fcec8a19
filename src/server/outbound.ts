import http from 'node:http';
import https from 'node:https';
import type { TlsMaterial } from './tls.ts';

/**
 * Requests this member makes to others (peers, or the members a proxy forwards to) over
 * keep-alive connections: plain HTTP, or HTTPS trusting the given CA and showing the given
 * certificate. The TLS options are read per request, so rotated certificates are used at once.
 */
export class Outbound {
  private readonly tls: TlsMaterial | undefined;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(tls: TlsMaterial | undefined, maxSockets = Infinity) {
    this.tls = tls;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
  }

  request(url: URL, options: http.RequestOptions): http.ClientRequest {
    if (url.protocol !== 'https:') return http.request(url, { ...options, agent: this.httpAgent });
    return https.request(url, { ...options, agent: this.httpsAgent, ...(this.tls?.clientOptions() ?? {}) });
  }

  /** GETs JSON; rejects on a network error, a timeout, a status other than 200 or a body that is not JSON. */
  async getJson(url: URL, timeoutMs: number): Promise<unknown> {
    return (await this.getJsonAnswer(url, timeoutMs)).body;
  }

  /** As getJson, with the answer's headers. */
  getJsonAnswer(url: URL, timeoutMs: number): Promise<{ body: unknown; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const request = this.request(url, { method: 'GET', timeout: timeoutMs });
      request.on('timeout', () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      request.on('error', (error: NodeJS.ErrnoException) => reject(new Error(error.code ?? error.message)));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          if (response.statusCode !== 200) return reject(new Error(`answered ${response.statusCode}`));
          try {
            resolve({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: response.headers });
          } catch {
            reject(new Error('answered something that is not JSON'));
          }
        });
      });
      request.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
