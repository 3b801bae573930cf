// Writes the generated references from their registries; with --check, fails when a committed file has drifted.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderErrorCodeDocs, renderHealthIssueDocs } from '../dist/index.js';

const docs = [
  ['errors.md', renderErrorCodeDocs()],
  ['health-issues.md', renderHealthIssueDocs()],
];
for (const [file, text] of docs) {
  const target = new URL(`../docs/${file}`, import.meta.url);
  if (process.argv.includes('--check')) {
    const current = readFileSync(target, 'utf8');
    if (current !== text) {
      console.error(`schema/docs/${file} is out of date: run \`npm run docs -w @protector/schema\`.`);
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
  }
}
