#!/usr/bin/env node
// The `kip` binary: the compiled CLI lives in dist/ (built by `npm install` via `prepare`).
import('../dist/cli/index.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli')) {
    process.stderr.write('kip: the build output is missing; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
