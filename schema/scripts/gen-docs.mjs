// Writes docs/errors.md from the registry; with --check, fails when the committed file has drifted.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderErrorCodeDocs } from '../dist/index.js';

const target = new URL('../docs/errors.md', import.meta.url);
const text = renderErrorCodeDocs();
if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== text) {
    console.error('schema/docs/errors.md is out of date: run `npm run docs -w @protector/schema`.');
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
}
