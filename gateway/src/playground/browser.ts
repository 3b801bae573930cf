/**
 * Drives the playground in a real headless Chromium (playwright-core, system Chromium): loads the page,
 * runs an operation through the GraphiQL UI and reads what the result pane shows, optionally runs a
 * subscription for a while, and reports every request the page tried to make off this machine.
 * Used by the gateway's own tests and by the end-to-end tests against the real gateway.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** The Chromium flags of the lab: headless, sandbox off (root in containers), no phoning home. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** An operation to run: a saved tab by its title (operation name), or text typed into a new tab. */
export interface PlaygroundOperation {
  /** Title of a saved tab, e.g. `SitesAndHealth`. */
  readonly tab?: string;
  /** Operation text pasted into a new tab (used when `tab` is not given). */
  readonly query?: string;
  /** Replaces the variables editor's text (JSON). */
  readonly variables?: string | Record<string, unknown>;
  /** Replaces the headers editor's text, e.g. `{ 'X-Site-Token-boston': token }`. */
  readonly headers?: Record<string, string>;
}

export interface DriveThePlaygroundOptions {
  /** The query or mutation to run and read the result of. */
  readonly run?: PlaygroundOperation;
  /**
   * A subscription to start after `run`, watched until `until` holds for the events seen (or
   * `watchMs` passed), then stopped if still running.
   */
  readonly subscribe?: PlaygroundOperation & {
    /** @default timeoutMs */
    readonly watchMs?: number;
    /** Stop watching once this holds for the events seen so far. */
    readonly until?: (events: readonly unknown[]) => boolean;
    /** Called when the page sent the subscription over its WebSocket (e.g. to start what it watches). */
    readonly onSubscribed?: () => void;
  };
  /** @default '/usr/bin/chromium' (or $CHROMIUM_PATH) */
  readonly executablePath?: string;
  /** Per step (page load, each result). @default 30000 */
  readonly timeoutMs?: number;
  /** Hosts the page may reach besides loopback and the page's own host. @default [] */
  readonly allowedHosts?: readonly string[];
  /** Write a PNG of the page here at the end (for debugging a failing test). */
  readonly screenshotPath?: string;
}

export interface PlaygroundRunResult {
  /** Text of the result pane as rendered (Monaco's visible lines). */
  readonly text: string;
  /** The full response GraphiQL holds for the tab, parsed when it is JSON. */
  readonly response: unknown;
}

export interface PlaygroundSubscriptionResult extends PlaygroundRunResult {
  /** Every distinct response the pane showed while watching (GraphiQL shows the newest event only). */
  readonly events: unknown[];
}

export interface DriveThePlaygroundResult {
  readonly title: string;
  /** Titles of the tabs when the page had loaded (the saved operations). */
  readonly tabTitles: string[];
  /** `window.__PROTECTOR__` as the server injected it. */
  readonly config: unknown;
  readonly run?: PlaygroundRunResult;
  readonly subscription?: PlaygroundSubscriptionResult;
  /** Requests to hosts other than loopback / the page's host (each was blocked). */
  readonly externalRequests: string[];
  /** Requests that failed, with the reason. */
  readonly failedRequests: { url: string; error: string }[];
  /** Requests answered with a status >= 400. */
  readonly errorResponses: { url: string; status: number }[];
  /** Console errors and uncaught page errors (CSP violations show up here). */
  readonly consoleErrors: string[];
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Monaco renders spaces as NBSP and only the visible lines. */
const paneText = async (page: Page, selector: string): Promise<string> =>
  (await page.locator(`${selector} .view-lines`).first().innerText()).replace(/\u00a0/g, ' ');

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** The active tab's response as GraphiQL stored it (see `onTabChange` in playground/src/main.ts). */
const activeResponse = (page: Page): Promise<string> =>
  page.evaluate(
    `(() => { const s = window.__PROTECTOR_TABS__; const t = s && s.tabs[s.activeTabIndex]; return (t && t.response) || ''; })()`,
  ) as Promise<string>;

const isFetching = (page: Page): Promise<boolean> =>
  page.evaluate(
    // The execute button shows a stop icon (and its label says so) while a request or subscription runs.
    `(() => { const b = document.querySelector('.graphiql-execute-button'); return !!b && /stop/i.test(b.getAttribute('aria-label') || ''); })()`,
  ) as Promise<boolean>;

async function replaceEditorText(page: Page, editor: string, text: string): Promise<void> {
  const target = page.locator(`${editor} .monaco-editor`).first();
  await target.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  // Pasted, not typed: typing (even insertText) lets Monaco auto-close brackets and auto-indent lines.
  await page.evaluate(
    `((text) => {
      const data = new DataTransfer();
      data.setData('text/plain', text);
      const paste = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
      document.activeElement.dispatchEvent(paste);
    })(${JSON.stringify(text)})`,
  );
}

async function openOperation(page: Page, op: PlaygroundOperation, timeoutMs: number): Promise<void> {
  if (op.tab) {
    const tab = page.locator('.graphiql-tab-button', { hasText: new RegExp(`^\\s*${op.tab}\\s*$`) });
    await tab.first().click({ timeout: timeoutMs });
  } else if (op.query !== undefined) {
    await page.locator('.graphiql-tab-add').click();
    await replaceEditorText(page, '.graphiql-query-editor', op.query);
  } else {
    throw new Error('driveThePlayground: an operation needs `tab` or `query`.');
  }
  const tools = async (name: 'variables' | 'headers', text: string) => {
    await page.locator(`.graphiql-editor-tools button[data-name="${name}"]`).click();
    await replaceEditorText(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)', text);
  };
  if (op.variables !== undefined) {
    await tools(
      'variables',
      typeof op.variables === 'string' ? op.variables : JSON.stringify(op.variables, null, 2),
    );
  }
  if (op.headers !== undefined) await tools('headers', JSON.stringify(op.headers, null, 2));
}

async function execute(page: Page): Promise<void> {
  await page.locator('.graphiql-execute-button').click();
}

/**
 * Loads the playground at `url` in a fresh headless Chromium profile and drives it through the UI.
 * Every request to a host other than loopback, the page's host and `allowedHosts` is blocked and
 * reported in `externalRequests`: an offline playground reports none.
 * @throws when Chromium cannot start, the page does not render GraphiQL, or a result does not come
 *   within `timeoutMs`.
 */
export async function driveThePlayground(
  url: string,
  opts: DriveThePlaygroundOptions = {},
): Promise<DriveThePlaygroundResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const pageHost = new URL(url).host;
  const allowed = new Set([...(opts.allowedHosts ?? [])]);
  const isLocal = (target: URL) =>
    !/^(https?|wss?):$/.test(target.protocol) ||
    LOOPBACK.has(target.hostname) ||
    target.host === pageHost ||
    allowed.has(target.host) ||
    allowed.has(target.hostname);

  const externalRequests: string[] = [];
  const failedRequests: { url: string; error: string }[] = [];
  const errorResponses: { url: string; status: number }[] = [];
  const consoleErrors: string[] = [];

  const userDataDir = await mkdtemp(join(tmpdir(), 'protector-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.executablePath ?? process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1400, height: 1000 },
      serviceWorkers: 'block',
    });
    context.setDefaultTimeout(timeoutMs);
    await context.route('**/*', async (route) => {
      const target = new URL(route.request().url());
      if (isLocal(target)) return route.continue();
      externalRequests.push(target.toString());
      return route.abort('blockedbyclient');
    });
    await context.routeWebSocket(
      (target) => !isLocal(target),
      (ws) => {
        externalRequests.push(ws.url());
        return ws.close();
      },
    );

    const page = context.pages()[0] ?? (await context.newPage());
    page.on('requestfailed', (req) => {
      failedRequests.push({ url: req.url(), error: req.failure()?.errorText ?? 'failed' });
    });
    page.on('response', (res) => {
      if (res.status() >= 400) errorResponses.push({ url: res.url(), status: res.status() });
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));

    await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
    await page.locator('.graphiql-container').waitFor({ timeout: timeoutMs });
    await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor({ timeout: timeoutMs });
    await page.waitForFunction(
      '!!window.__PROTECTOR_TABS__ || document.querySelectorAll(".graphiql-tab").length > 0',
    );
    const title = await page.title();
    const tabTitles = (await page.locator('.graphiql-tab-button').allInnerTexts()).map((t) => t.trim());
    const config = await page.evaluate('window.__PROTECTOR__ ?? null');

    let run: PlaygroundRunResult | undefined;
    if (opts.run) {
      await openOperation(page, opts.run, timeoutMs);
      await execute(page);
      const deadline = Date.now() + timeoutMs;
      let response = '';
      while (Date.now() < deadline) {
        response = await activeResponse(page);
        if (response && !(await isFetching(page))) break;
        await sleep(100);
      }
      if (!response) throw new Error(`driveThePlayground: no result within ${timeoutMs} ms`);
      run = { text: await paneText(page, '.graphiql-response'), response: parse(response) };
    }

    let subscription: PlaygroundSubscriptionResult | undefined;
    if (opts.subscribe) {
      const { onSubscribed, until } = opts.subscribe;
      await openOperation(page, opts.subscribe, timeoutMs);
      if (onSubscribed) {
        let told = false;
        page.on('websocket', (ws) =>
          ws.on('framesent', ({ payload }) => {
            if (!told && typeof payload === 'string' && /"type"\s*:\s*"subscribe"/.test(payload)) {
              told = true;
              onSubscribed();
            }
          }),
        );
      }
      await execute(page);
      const events: unknown[] = [];
      let last = '';
      const deadline = Date.now() + (opts.subscribe.watchMs ?? timeoutMs);
      while (Date.now() < deadline) {
        const response = await activeResponse(page);
        if (response && response !== last) {
          last = response;
          events.push(parse(response));
        }
        if (until?.(events)) break;
        await sleep(50);
      }
      // The pane renders after the response changed: read it once it stopped changing.
      let text = last ? await paneText(page, '.graphiql-response') : '';
      for (let i = 0; last && i < 20; i++) {
        await sleep(150);
        const again = await paneText(page, '.graphiql-response');
        if (again === text) break;
        text = again;
      }
      // Stop the subscription if it is still running (the execute button toggles).
      if (await isFetching(page)) await execute(page);
      subscription = { text, response: parse(last), events };
    }
    if (opts.screenshotPath) await page.screenshot({ path: opts.screenshotPath, fullPage: true });

    return {
      title,
      tabTitles,
      config,
      ...(run ? { run } : {}),
      ...(subscription ? { subscription } : {}),
      externalRequests,
      failedRequests,
      errorResponses,
      consoleErrors,
    };
  } finally {
    await context?.close().catch(() => undefined);
    await rm(userDataDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
