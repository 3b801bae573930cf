/**
 * The playground (GraphiQL 5) as the gateway serves it: `index.html` at `/` with the site keys, the
 * GraphQL path, default headers and the saved drill operations injected as `window.__PROTECTOR__`, and
 * the bundle Vite built into `gateway/playground-dist/` under `/playground/`. Everything is local:
 * the page fetches nothing from the internet (enforced by its Content-Security-Policy too).
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Dirent, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type ExampleTab, exampleTabs } from './examples.js';
import { headersEditorText } from './headers.js';

export { type ExampleOptions, type ExampleTab, exampleTabs } from './examples.js';
export {
  cleanHeaders,
  headersEditorText,
  headersToConnectionParams,
  type PlaygroundConnectionParams,
  SITE_TOKEN_HEADER_PREFIX,
  siteTokenHeaderName,
} from './headers.js';

/** URL prefix of the bundle (Vite `base`); every file the page loads is under it. */
export const PLAYGROUND_BASE = '/playground/';

/** Where `vite build --config playground/vite.config.ts` writes the bundle: `gateway/playground-dist/`. */
export const DEFAULT_PLAYGROUND_DIST_DIR: string = fileURLToPath(
  new URL('../../playground-dist/', import.meta.url),
);

/** The command that builds the bundle (named in the 503 answer when it is missing). */
export const PLAYGROUND_BUILD_COMMAND = 'npm run build -w @protector/gateway';

export interface PlaygroundOptions {
  /** Directory of the built bundle. @default {@link DEFAULT_PLAYGROUND_DIST_DIR} */
  readonly distDir?: string;
  /** Page title. @default 'Protector playground' */
  readonly title?: string;
  /** Site keys of the supergraph now (called per page load, so a registered site shows up). */
  readonly siteKeys: () => string[];
  /** Headers pre-filled in the headers editor, e.g. a lab token. @default none (empty placeholders) */
  readonly defaultHeaders?: () => Record<string, string>;
  /** Path of GraphQL over HTTP and graphql-ws. @default '/graphql' */
  readonly graphqlPath?: string;
  /** Group the saved operations act on. @default 'prod-web-app' */
  readonly exampleProtectionGroup?: string;
}

/** What the page finds in `window.__PROTECTOR__`. */
export interface PlaygroundConfig {
  readonly title: string;
  readonly graphqlPath: string;
  readonly siteKeys: readonly string[];
  readonly defaultHeaders: Readonly<Record<string, string>>;
  /** Text of the headers editor for new tabs. */
  readonly headersText: string;
  readonly tabs: readonly ExampleTab[];
  /** Bumped when the saved tabs change, so browsers replace tabs stored by an older version. */
  readonly storageNamespace: string;
}

/** A node:http route handler that also knows the exact paths it serves now (for exact-path routers). */
export interface PlaygroundHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** `/`, `/playground`, `/playground/`, `/playground/index.html` and every file of the bundle. */
  paths(): string[];
  /** The config the page gets now. */
  config(): PlaygroundConfig;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt', '.ttf']);
const IMMUTABLE = 'public, max-age=31536000, immutable';
const INDEX_PATHS = new Set(['/', '/playground', '/playground/', '/playground/index.html']);

/** JSON safe inside `<script>`: no `</script>`, `<!--` or line separators that end the script early. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * The playground route handler: `index.html` (no-store, config injected) at `/`, `/playground`,
 * `/playground/` and `/playground/index.html`, the bundle's files under `/playground/` (hashed names
 * under `/playground/assets/` cached for a year), 404 for anything else under `/playground/`, 405 for
 * methods other than GET / HEAD, and 503 naming the build command while the bundle is not built.
 * Any other path (e.g. `/graphql` asked for by a browser) gets the page.
 */
export function createPlaygroundHandler(opts: PlaygroundOptions): PlaygroundHandler {
  const distDir = resolve(opts.distDir ?? DEFAULT_PLAYGROUND_DIST_DIR);
  const graphqlPath = opts.graphqlPath ?? '/graphql';
  const title = opts.title ?? 'Protector playground';
  const gzipCache = new Map<string, { mtimeMs: number; body: Buffer }>();
  let template: { mtimeMs: number; html: string } | undefined;

  const config = (): PlaygroundConfig => {
    const siteKeys = [...opts.siteKeys()];
    const defaultHeaders = { ...(opts.defaultHeaders?.() ?? {}) };
    const headersText = headersEditorText(siteKeys, defaultHeaders);
    const tabs = exampleTabs({
      siteKeys,
      headers: headersText,
      ...(opts.exampleProtectionGroup ? { protectionGroup: opts.exampleProtectionGroup } : {}),
    });
    const digest = createHash('sha256')
      .update(JSON.stringify(tabs.map((t) => [t.query, t.variables])))
      .digest('hex')
      .slice(0, 12);
    return {
      title,
      graphqlPath,
      siteKeys,
      defaultHeaders,
      headersText,
      tabs,
      storageNamespace: `protector-${digest}`,
    };
  };

  const readTemplate = (): string | undefined => {
    const file = join(distDir, 'index.html');
    let mtimeMs: number;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      return undefined;
    }
    if (!template || template.mtimeMs !== mtimeMs) template = { mtimeMs, html: readFileSync(file, 'utf8') };
    return template.html;
  };

  const serveIndex = (req: IncomingMessage, res: ServerResponse, html: string): void => {
    const script = `window.__PROTECTOR__ = ${scriptJson(config())};`;
    const hash = createHash('sha256').update(script).digest('base64');
    let page = html.replace(/<title>[^<]*<\/title>/, `<title>${escapeHtml(title)}</title>`);
    const tag = `<script>${script}</script>`;
    page = page.includes('</head>') ? page.replace('</head>', `${tag}\n</head>`) : tag + page;
    const host = String(req.headers.host ?? '').replace(/[^A-Za-z0-9.:[\]-]/g, '');
    const sockets = host ? ` ws://${host} wss://${host}` : '';
    const body = Buffer.from(page, 'utf8');
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': String(body.length),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      // Nothing but this origin: no CDN, no font service; the config script is allowed by its hash.
      'content-security-policy': [
        "default-src 'self'",
        `script-src 'self' 'sha256-${hash}'`,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        `connect-src 'self'${sockets}`,
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'self'",
      ].join('; '),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  /** The file under `distDir` that `pathname` (already decoded, below the base) names, or undefined. */
  const fileFor = (rel: string): string | undefined => {
    if (rel.includes('\0') || rel.includes('\\')) return undefined;
    const file = resolve(distDir, `.${sep}${rel}`);
    const back = relative(distDir, file);
    if (!back || back.startsWith('..') || isAbsolute(back)) return undefined;
    return file;
  };

  const serveFile = async (req: IncomingMessage, res: ServerResponse, rel: string): Promise<void> => {
    const file = fileFor(rel);
    const info = file ? await stat(file).catch(() => undefined) : undefined;
    if (!file || !info?.isFile() || rel === 'index.html') {
      send(res, 404, `Not found: ${PLAYGROUND_BASE}${rel}`);
      return;
    }
    const ext = extname(file).toLowerCase();
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'cache-control': rel.startsWith('assets/') ? IMMUTABLE : 'no-cache',
      'x-content-type-options': 'nosniff',
      'last-modified': info.mtime.toUTCString(),
    };
    const gzip = COMPRESSIBLE.has(ext) && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (COMPRESSIBLE.has(ext)) headers['vary'] = 'accept-encoding';
    if (gzip) {
      let cached = gzipCache.get(file);
      if (!cached || cached.mtimeMs !== info.mtimeMs) {
        cached = { mtimeMs: info.mtimeMs, body: gzipSync(await readFile(file)) };
        gzipCache.set(file, cached);
      }
      res.writeHead(200, {
        ...headers,
        'content-encoding': 'gzip',
        'content-length': String(cached.body.length),
      });
      res.end(req.method === 'HEAD' ? undefined : cached.body);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(info.size) });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'The playground only answers GET and HEAD.', { allow: 'GET, HEAD' });
      return;
    }
    const rawPath = (req.url ?? '/').split(/[?#]/, 1)[0] || '/';
    let pathname: string;
    try {
      pathname = decodeURIComponent(rawPath);
    } catch {
      send(res, 400, 'Malformed URL.');
      return;
    }
    const html = readTemplate();
    if (html === undefined) {
      send(
        res,
        503,
        `The playground has not been built (no index.html in ${distDir}).\n` +
          `Run \`${PLAYGROUND_BUILD_COMMAND}\` and reload; GraphQL itself is served at ${graphqlPath}.\n`,
        { 'retry-after': '30' },
      );
      return;
    }
    if (INDEX_PATHS.has(pathname) || !pathname.startsWith(PLAYGROUND_BASE)) {
      serveIndex(req, res, html);
      return;
    }
    await serveFile(req, res, pathname.slice(PLAYGROUND_BASE.length));
  };

  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `Playground error: ${(err as Error).message}`);
      else res.destroy();
    });
  }) as PlaygroundHandler;

  handler.paths = () => {
    const paths = [...INDEX_PATHS];
    const walk = (dir: string, prefix: string) => {
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
        else if (entry.isFile() && !(prefix === '' && entry.name === 'index.html'))
          paths.push(`${PLAYGROUND_BASE}${prefix}${entry.name}`);
      }
    };
    if (existsSync(distDir)) walk(distDir, '');
    return paths;
  };
  handler.config = config;
  return handler;
}

/** A route handler as the server kit's `routes` option takes it. */
export type PlaygroundRoute = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Exact path -> handler for a router that matches exact paths only (the server kit's `routes`):
 * the page paths and every file of the bundle as built when this is called. Build the bundle before
 * calling it; with prefix routing, mount the handler on `/` and `/playground/*` instead.
 */
export function playgroundRoutes(handler: PlaygroundHandler): Record<string, PlaygroundRoute> {
  return Object.fromEntries(handler.paths().map((path) => [path, handler]));
}
