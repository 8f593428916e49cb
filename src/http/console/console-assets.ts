import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { RequestHandler, Response } from 'express';

/**
 * The console's one CSS file, one ES module and its icon, served as they are: no build step. They
 * live next to the TypeScript (src/http/console/assets), found from src and from dist alike.
 */
export const ASSETS_DIR = fileURLToPath(new URL('../../../src/http/console/assets/', import.meta.url));

/** Below this, gzip's header costs about what it saves. */
const MIN_GZIP_BYTES = 1024;

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.ico': 'image/x-icon',
};

interface Asset {
  type: string;
  raw: Buffer;
  gzipped: Buffer;
  etag: string;
}

/**
 * Sends `body` gzipped when the client takes gzip and it is big enough: the Deploys tab
 * with 50 rows is ~40 KB of HTML and ~8 KB on the wire.
 */
export function sendCompressed(res: Response, body: string | Buffer, type: string, gzipped?: Buffer): void {
  const raw = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.vary('Accept-Encoding').type(type);
  if (raw.length >= MIN_GZIP_BYTES && res.req.acceptsEncodings('gzip', 'identity') === 'gzip') {
    res.set('Content-Encoding', 'gzip').send(gzipped ?? gzipSync(raw));
  } else {
    res.send(raw);
  }
}

/**
 * The assets, read and compressed once at start (they only change with a new release).
 * Mounted at `/console/assets`, and at `/favicon.ico` for the icon browsers ask for.
 */
export function consoleAssets(): RequestHandler {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(ASSETS_DIR)) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (!type) continue;
    const raw = readFileSync(join(ASSETS_DIR, name));
    assets.set(`/${name}`, {
      type,
      raw,
      gzipped: gzipSync(raw, { level: 9 }),
      etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
    });
  }
  return (req, res, next) => {
    const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get(req.path) : undefined;
    if (!asset) return next();
    res.set({ 'Cache-Control': 'public, max-age=300', ETag: asset.etag });
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    sendCompressed(res, asset.raw, asset.type, asset.gzipped);
  };
}
