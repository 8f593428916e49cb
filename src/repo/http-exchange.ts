/**
 * One request and its whole answer, over node:http(s) with kept-alive connections: the
 * ref advertisements and receive-pack POSTs of http-remote.ts.
 *
 * Not `fetch`: undici's fetch cost ~0.45 ms of CPU per request here (WHATWG streams,
 * Headers, a combined AbortSignal), a tenth of the bridge's CPU for a deploy sent alone,
 * where node:http costs a third of that (issue #22, measured with `--cpu-prof`).
 */
import http from 'node:http';
import https from 'node:https';

export interface Exchanged {
  status: number;
  /** The Content-Type, '' without one. */
  type: string;
  bytes: Uint8Array;
}

export interface ExchangeOptions {
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Bound on the whole exchange, answer included: then it fails with a `TimeoutError`. */
  timeoutMs: number;
  /** Aborts it (an `AbortError`). */
  signal?: AbortSignal | undefined;
}

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/**
 * Sends the request and reads the whole answer. A GET on a kept-alive connection that the
 * server had closed meanwhile (a restart) is sent once more on a new one, as HTTP clients
 * do; a POST is not (its caller decides: a push is a compare-and-swap and is retried there).
 */
export async function exchange(url: URL, options: ExchangeOptions): Promise<Exchanged> {
  try {
    return await exchangeOnce(url, options);
  } catch (err) {
    if ((options.method ?? 'GET') === 'GET' && (err as StaleSocket).staleSocket) return exchangeOnce(url, options);
    throw err;
  }
}

interface StaleSocket extends Error {
  staleSocket?: boolean;
}

function exchangeOnce(url: URL, options: ExchangeOptions): Promise<Exchanged> {
  const { signal } = options;
  return new Promise<Exchanged>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const protocol = url.protocol === 'https:' ? https : http;
    const req = protocol.request(url, {
      method: options.method ?? 'GET',
      headers: options.body
        ? { ...options.headers, 'Content-Length': String(options.body.byteLength) }
        : options.headers,
      agent: agents[url.protocol as keyof typeof agents],
    });
    // Why the exchange was cut, for an answer cut off midway too.
    let cut: Error | undefined;
    const cutOff = (err: Error) => req.destroy((cut = err));
    const timer = setTimeout(() => cutOff(timeoutError(options.timeoutMs)), options.timeoutMs);
    const onAbort = () => cutOff(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    req.on('error', (err: StaleSocket) => {
      done();
      const code = (err as NodeJS.ErrnoException).code;
      if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) err.staleSocket = true;
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('close', () => {
        done();
        if (!res.complete) reject(cut ?? new Error('the server closed the connection before the whole answer'));
      });
      res.on('end', () => {
        done();
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'] ?? '',
          bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
        });
      });
    });
    req.end(options.body);
  });
}

function timeoutError(ms: number): Error {
  const err = new Error(`no answer within ${ms} ms`);
  err.name = 'TimeoutError';
  return err;
}

function abortError(): Error {
  const err = new Error('the request was aborted');
  err.name = 'AbortError';
  return err;
}
