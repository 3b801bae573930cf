/**
 * Starts site services as real child processes (`node dist/bin.js --config <file>`) for integration
 * tests, and talks to them over HTTP: GraphQL, Keystone tokens of each site's simulated cloud.
 * The tests do not build: `dist/` must be current (turbo builds before tests).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetch } from 'undici';

export const SITE_BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** A temp folder removed by `cleanup()`. */
export function tempDir(prefix: string): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface SiteConfigOptions {
  readonly name: string;
  readonly dir: string;
  readonly mockDir: string;
  readonly arrays: readonly [string, string];
  readonly transferMs?: number;
  readonly monitorInterval?: number;
  readonly simPort?: number;
  readonly bootSeconds?: number;
  /** Extra `[section]` -> lines appended. */
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** Writes `<dir>/<name>/protector.conf` for a mock-storage, simulated-cloud site; returns its path. */
export function writeSiteConfig(o: SiteConfigOptions): string {
  const state = join(o.dir, o.name);
  mkdirSync(state, { recursive: true });
  const sections: Record<string, string[]> = {
    DEFAULT: [
      `site_name = ${o.name}`,
      `state_path = ${state}`,
      `log_dir = ${state}/log`,
      'use_mock_storage = True',
      `mock_storage_dir = ${o.mockDir}`,
      `mock_arrays = ${o.arrays.join(',')}`,
      `mock_transfer_ms = ${o.transferMs ?? 200}`,
      `replication_monitor_interval = ${o.monitorInterval ?? 1}`,
      'use_simulated_cloud = True',
    ],
    openstack: [`sim_port = ${o.simPort ?? 0}`, `sim_boot_seconds = ${o.bootSeconds ?? 0}`],
    api: ['bind_host = 127.0.0.1', 'bind_port = 0'],
  };
  for (const [section, lines] of Object.entries(o.extra ?? {})) {
    sections[section] = [...(sections[section] ?? []), ...lines];
  }
  const text = Object.entries(sections)
    .map(([s, lines]) => `[${s}]\n${lines.join('\n')}\n`)
    .join('\n');
  const path = join(state, 'protector.conf');
  writeFileSync(path, text);
  return path;
}

/** Runs `protector-site` to completion (e.g. `--check-config`) and returns its exit code and output. */
export function runSiteCommand(
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SITE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`protector-site ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface SiteProcess {
  readonly name: string;
  readonly configPath: string;
  /** GraphQL endpoint, from `protector-site <name> ready at <url>`. */
  readonly url: string;
  /** Base URL of the service (the GraphQL URL without /graphql). */
  readonly baseUrl: string;
  /** Keystone v3 URL of the site's simulated cloud. */
  readonly keystoneUrl: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far. */
  output(): string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** Starts `protector-site --config <file>` and waits for its ready line. */
export function startSiteProcess(configPath: string, timeoutMs = 30_000): Promise<SiteProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SITE_BIN, '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let exited = false;
    const exit = new Promise<void>((r) =>
      child.once('exit', () => {
        exited = true;
        r();
      }),
    );
    const kill = async (signal: NodeJS.Signals) => {
      if (!exited) child.kill(signal);
      await exit;
    };
    const timer = setTimeout(() => {
      void kill('SIGKILL');
      reject(new Error(`protector-site did not become ready within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const ready = /protector-site (\S+) ready at (\S+)/.exec(out);
      const ks = /simulated OpenStack cloud of site \S+ at \S+ \(Keystone (\S+)\)/.exec(out);
      if (!ready || !ks) return;
      clearTimeout(timer);
      const url = ready[2]!;
      resolve({
        name: ready[1]!,
        configPath,
        url,
        baseUrl: url.replace(/\/graphql$/, ''),
        keystoneUrl: ks[1]!,
        child,
        output: () => out,
        kill: () => kill('SIGKILL'),
        async stop() {
          if (exited) return;
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exit;
          clearTimeout(t);
        },
      });
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      check();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`protector-site exited with ${code} before it was ready:\n${out}`));
    });
  });
}

/** A project-scoped Keystone token (password auth) from a site's Keystone. */
export async function keystoneToken(
  keystoneUrl: string,
  user: string,
  password: string,
  project: string,
): Promise<{ token: string; projectId: string; roles: string[] }> {
  const res = await fetch(`${keystoneUrl.replace(/\/$/, '')}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { name: 'Default' }, password } },
        },
        scope: { project: { name: project, domain: { name: 'Default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`Keystone refused ${user}: ${res.status} ${await res.text()}`);
  const token = res.headers.get('x-subject-token');
  const body = (await res.json()) as { token: { project: { id: string }; roles: { name: string }[] } };
  if (!token) throw new Error('Keystone returned no X-Subject-Token');
  return { token, projectId: body.token.project.id, roles: body.token.roles.map((r) => r.name) };
}

/** The three identities of a simulated cloud. */
export interface SiteTokens {
  readonly service: string;
  readonly tenant: string;
  readonly admin: string;
  readonly tenantProjectId: string;
  readonly adminProjectId: string;
}

export async function siteTokens(keystoneUrl: string): Promise<SiteTokens> {
  const [service, tenant, admin] = await Promise.all([
    keystoneToken(keystoneUrl, 'protector', 'protector', 'service'),
    keystoneToken(keystoneUrl, 'demo', 'demo', 'demo'),
    keystoneToken(keystoneUrl, 'admin', 'admin', 'admin'),
  ]);
  return {
    service: service.token,
    tenant: tenant.token,
    admin: admin.token,
    tenantProjectId: tenant.projectId,
    adminProjectId: admin.projectId,
  };
}

export interface GraphQLErrorShape {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [k: string]: unknown };
}

export interface GraphQLResult<T = Record<string, unknown>> {
  status: number;
  data: T | null;
  errors: GraphQLErrorShape[];
}

/** POSTs a GraphQL request with `X-Auth-Token` (when a token is given). */
export async function gql<T = Record<string, unknown>>(
  url: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: { data?: T | null; errors?: GraphQLErrorShape[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`not JSON (HTTP ${res.status}): ${text.slice(0, 500)}`);
  }
  return { status: res.status, data: body.data ?? null, errors: body.errors ?? [] };
}

/** Like `gql`, but any GraphQL error fails with its messages. */
export async function gqlOk<T = Record<string, unknown>>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const r = await gql<T>(url, token, query, variables);
  if (r.errors.length || !r.data) {
    throw new Error(
      `GraphQL errors (HTTP ${r.status}): ${r.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`,
    );
  }
  return r.data;
}

/** Polls `probe` until it returns a value other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
