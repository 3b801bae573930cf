#!/usr/bin/env node
// The `protector` bin: runs the compiled entry in dist/, or says to build first (npm links bins before any build).
const entry = new URL('../dist/cli/main.js', import.meta.url);
try {
  await import(entry.href);
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || err.url !== entry.href) throw err;
  process.stderr.write('protector: not built yet; run `npm run build` in the repository root first\n');
  process.exitCode = 1;
}
