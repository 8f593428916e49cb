import express, { type RequestHandler } from 'express';
import { fileURLToPath } from 'node:url';

/**
 * The console's one CSS file and one ES module, served as they are: no build step. They
 * live next to the TypeScript (src/http/console/assets), found from src and from dist alike.
 */
export const ASSETS_DIR = fileURLToPath(new URL('../../../src/http/console/assets/', import.meta.url));

export function consoleAssets(): RequestHandler {
  return express.static(ASSETS_DIR, { index: false, maxAge: '5m' });
}
