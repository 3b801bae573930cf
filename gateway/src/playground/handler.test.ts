import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlaygroundHandler, type PlaygroundHandler, playgroundRoutes } from './index.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/** A raw request: the path is sent as given (no URL normalisation), as an attacker would send it. */
function get(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function serve(handler: PlaygroundHandler): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const INDEX_HTML = `<!doctype html><html><head><title>x</title>
<script type="module" crossorigin src="/playground/assets/index-abc123.js"></script></head>
<body><div id="root"></div></body></html>`;

describe('createPlaygroundHandler with a built bundle', () => {
  const root = mkdtempSync(join(tmpdir(), 'playground-test-'));
  const dist = join(root, 'playground-dist');
  let server: Server;
  let port: number;

  beforeAll(async () => {
    mkdirSync(join(dist, 'assets'), { recursive: true });
    writeFileSync(join(dist, 'index.html'), INDEX_HTML);
    writeFileSync(
      join(dist, 'assets', 'index-abc123.js'),
      `console.log(${JSON.stringify('x'.repeat(4000))});`,
    );
    writeFileSync(join(dist, 'assets', 'index-abc123.css'), 'body{margin:0}');
    writeFileSync(join(dist, 'assets', 'codicon-abc.ttf'), Buffer.from([0, 1, 0, 0]));
    writeFileSync(join(root, 'secret.txt'), 'top secret');
    const handler = createPlaygroundHandler({
      distDir: dist,
      title: 'Protector </title><script>alert(1)</script>',
      siteKeys: () => ['boston', 'seattle'],
      defaultHeaders: () => ({ 'X-Site-Token-boston': '</script><script>alert(2)</script>' }),
    });
    ({ server, port } = await serve(handler));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html at / with the config injected and no-store', async () => {
    const res = await get(port, '/', { headers: { host: 'localhost:4000' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    const match = /<script>window\.__PROTECTOR__ = (.*?);<\/script>/s.exec(res.text);
    expect(match).not.toBeNull();
    const config = JSON.parse(match![1]!);
    expect(config.siteKeys).toEqual(['boston', 'seattle']);
    expect(config.graphqlPath).toBe('/graphql');
    expect(config.defaultHeaders).toEqual({ 'X-Site-Token-boston': '</script><script>alert(2)</script>' });
    expect(config.tabs.length).toBeGreaterThanOrEqual(12);
    expect(config.tabs[1].query).toContain('seattle {');
    expect(config.headersText).toContain('X-Site-Token-seattle');
    // Injected strings cannot close the script or the title.
    expect(res.text).not.toContain('<script>alert');
    expect(res.text).toContain(
      '<title>Protector &#60;/title&#62;&#60;script&#62;alert(1)&#60;/script&#62;</title>',
    );
    // The CSP allows only this origin, and the injected script by its hash.
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("connect-src 'self' ws://localhost:4000 wss://localhost:4000");
  });

  it('serves the page at /playground/ and to a browser asking for another path', async () => {
    for (const path of ['/playground', '/playground/', '/playground/index.html', '/graphql']) {
      const res = await get(port, path);
      expect(res.status, path).toBe(200);
      expect(res.text, path).toContain('window.__PROTECTOR__');
    }
    const head = await get(port, '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it('serves hashed assets with their content type and a long cache', async () => {
    const js = await get(port, '/playground/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.text).toContain('console.log');
    const css = await get(port, '/playground/assets/index-abc123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.text).toBe('body{margin:0}');
    const font = await get(port, '/playground/assets/codicon-abc.ttf?v=1');
    expect(font.headers['content-type']).toBe('font/ttf');
    expect([...font.body]).toEqual([0, 1, 0, 0]);
  });

  it('gzips text assets for clients that accept it', async () => {
    const res = await get(port, '/playground/assets/index-abc123.js', {
      headers: { 'accept-encoding': 'gzip, br' },
    });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.body.length).toBeLessThan(1000);
    expect(gunzipSync(res.body).toString()).toContain('xxxx');
  });

  it('answers 404 for missing files under /playground/', async () => {
    for (const path of ['/playground/assets/nope.js', '/playground/nope.txt', '/playground/assets/']) {
      const res = await get(port, path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
  });

  it('refuses path traversal, plain or encoded', async () => {
    for (const path of [
      '/playground/../secret.txt',
      '/playground/assets/../../secret.txt',
      '/playground/..%2fsecret.txt',
      '/playground/assets/..%2F..%2Fsecret.txt',
      '/playground/%2e%2e/secret.txt',
      '/playground/..%5csecret.txt',
      '/playground/assets/%00index-abc123.js',
      '/playground//etc/passwd',
      '/playground/%2Fetc%2Fpasswd',
    ]) {
      const res = await get(port, path);
      expect(res.text, path).not.toContain('top secret');
      expect(res.text, path).not.toContain('root:');
      expect(res.status, path).toBe(404);
    }
    expect((await get(port, '/playground/%E0%A4%A')).status).toBe(400);
  });

  it('answers 405 to other methods', async () => {
    const res = await get(port, '/playground/assets/index-abc123.js', { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD');
  });

  it('lists its exact paths for an exact-path router', () => {
    const handler = createPlaygroundHandler({ distDir: dist, siteKeys: () => [] });
    const routes = playgroundRoutes(handler);
    expect(Object.keys(routes).sort()).toEqual(
      [
        '/',
        '/playground',
        '/playground/',
        '/playground/index.html',
        '/playground/assets/codicon-abc.ttf',
        '/playground/assets/index-abc123.css',
        '/playground/assets/index-abc123.js',
      ].sort(),
    );
    expect(routes['/']).toBe(handler);
  });

  it('reads the site keys on every page load', async () => {
    const keys = ['boston'];
    const handler = createPlaygroundHandler({ distDir: dist, siteKeys: () => keys });
    expect(handler.config().siteKeys).toEqual(['boston']);
    const before = handler.config().storageNamespace;
    keys.push('seattle');
    expect(handler.config().siteKeys).toEqual(['boston', 'seattle']);
    expect(handler.config().storageNamespace).not.toBe(before);
  });
});

describe('createPlaygroundHandler without a built bundle', () => {
  it('answers 503 telling how to build it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'playground-unbuilt-'));
    const { server, port } = await serve(
      createPlaygroundHandler({ distDir: join(dir, 'playground-dist'), siteKeys: () => ['boston'] }),
    );
    try {
      for (const path of ['/', '/playground/assets/index-abc123.js']) {
        const res = await get(port, path);
        expect(res.status).toBe(503);
        expect(res.text).toContain('npm run build -w @protector/gateway');
        expect(res.headers['cache-control']).toBe('no-store');
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
