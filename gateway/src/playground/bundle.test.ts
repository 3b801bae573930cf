import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { needs, requirement } from '@protector/test-kit';
import { expect, it } from 'vitest';
import { DEFAULT_PLAYGROUND_DIST_DIR, PLAYGROUND_BUILD_COMMAND } from './index.js';

const DIST = DEFAULT_PLAYGROUND_DIST_DIR;
/** turbo builds the bundle before the tests: a missing one is a skip here and a failure in CI. */
const playgroundBuild = requirement(
  'the built playground (gateway/playground-dist)',
  existsSync(join(DIST, 'index.html')),
  PLAYGROUND_BUILD_COMMAND,
);

const TEXT = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt']);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Hosts that only appear in links, docs and error messages of GraphiQL, Monaco, React and graphql-js. */
const LINK_ONLY_HOSTS = new Set([
  'github.com',
  'code.visualstudio.com',
  'react.dev',
  'reactjs.org',
  'json-schema.org',
  'www.w3.org',
  'en.wikipedia.org',
  'commonmark.org',
  'prettier.io',
  'microsoft.com',
  'yarnpkg.com',
  'spec.graphql.org',
  'graphql.org',
  'tools.ietf.org',
  'scalars.graphql.org',
  // The saved CreateReplicationPolicy example's placeholder array URLs.
  'flasharray-',
]);

needs(playgroundBuild).describe('the built playground bundle', () => {
  const all = files(DIST);
  const text = all
    .filter((f) => TEXT.has(extname(f)))
    .map((f) => ({ file: relative(DIST, f), body: readFileSync(f, 'utf8') }));

  it('is self-contained: index.html, scripts, styles, workers and the icon font', () => {
    const names = all.map((f) => relative(DIST, f));
    expect(names).toContain('index.html');
    expect(names.some((n) => /^assets\/index-[\w-]+\.js$/.test(n))).toBe(true);
    expect(names.some((n) => /^assets\/.*\.worker-[\w-]+\.js$/.test(n))).toBe(true);
    const size = all.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(size).toBeLessThan(15 * 1024 * 1024);
  });

  it('names no CDN or font service anywhere', () => {
    const cdn =
      /\b(unpkg\.com|cdn\.jsdelivr\.net|jsdelivr|cdnjs\.cloudflare\.com|fonts\.googleapis\.com|fonts\.gstatic\.com|esm\.sh|cdn\.skypack\.dev|ga\.jspm\.io|cdn\.graphql)/i;
    for (const { file, body } of text) expect(cdn.exec(body)?.[0], file).toBeUndefined();
  });

  it('loads nothing from an absolute URL: no src/href, url(), @import, import() or worker off this origin', () => {
    const loads = [
      /\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//gi, // HTML attributes
      /url\(\s*["']?(?:https?:)?\/\//gi, // CSS
      /@import\s+(?:url\()?\s*["']?(?:https?:)?\/\//gi,
      /\bimport\s*\(\s*["'`]https?:/gi, // dynamic import
      /\bfrom\s*["']https?:/gi,
      /\bimportScripts\s*\(\s*["'`]https?:/gi,
      /new\s+(?:Shared)?Worker\s*\(\s*["'`]https?:/gi,
      /\bfetch\s*\(\s*["'`]https?:/gi,
    ];
    for (const { file, body } of text) {
      for (const re of loads) expect(body.match(re), `${file}: ${re}`).toBeNull();
    }
  });

  it('mentions only known link-only hosts in https:// URLs', () => {
    const hosts = new Set<string>();
    for (const { body } of text) {
      for (const m of body.matchAll(/https:\/\/([a-z0-9.-]+)/gi)) hosts.add(m[1]!.toLowerCase());
    }
    expect([...hosts].filter((h) => !LINK_ONLY_HOSTS.has(h)).sort()).toEqual([]);
  });

  it('is served from /playground/ (Vite base), apart from /graphql', () => {
    const index = readFileSync(join(DIST, 'index.html'), 'utf8');
    const refs = [...index.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.filter((r) => !r.startsWith('data:'))).not.toHaveLength(0);
    for (const ref of refs)
      expect(ref.startsWith('/playground/assets/') || ref.startsWith('data:'), ref).toBe(true);
  });
});
