/**
 * The bench's CI client: webhook POSTs over node:http with kept-alive connections, what a
 * fleet of `curl`s costs the bridge (a connection each, answers read whole), at a fraction
 * of the CPU of `fetch` in this process. The bench process also runs the git server and
 * the native baseline on the same two cores, so a heavy client would slow what it measures.
 */
import http from 'node:http';

// As many connections as requests in flight (the rollout case holds 500 waiting ones).
const agent = new http.Agent({ keepAlive: true });

/** POST `body` to `/api/v1/webhook/<app>` of the bridge at `base`; the status and the parsed answer. */
export function sendWebhook(
  base: string,
  app: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/api/v1/webhook/${app}`, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(payload.byteLength), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve({ status: res.statusCode ?? 0, json: { raw: text } });
        }
      });
    });
    req.end(payload);
  });
}
