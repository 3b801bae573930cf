/**
 * One site service as a real child process for integration tests (`node dist/bin.js --config <file>`):
 * its config file, `protector-site` run to its exit, a started site whose URL and Keystone URL come
 * from what it prints (it binds port 0), and Keystone tokens of its simulated cloud. Processes, waits,
 * temp folders and GraphQL requests are `@protector/test-kit`'s.
 * The tests do not build: `dist/` must be current (turbo builds before tests).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningProcess, type RunResult, runProcess, startProcess } from '@protector/test-kit/processes';
import { fetch } from 'undici';

export const SITE_BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

export interface SiteConfigOptions {
  readonly name: string;
  readonly dir: string;
  readonly mockDir: string;
  readonly arrays: readonly [string, string];
  readonly transferMs?: number;
  readonly monitorInterval?: number;
  readonly bootSeconds?: number;
  /** Extra `[section]` -> lines appended. */
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Writes `<dir>/<name>/protector.conf` for a mock-storage, simulated-cloud site, the service and its
 * cloud on port 0; returns its path.
 */
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
    openstack: ['sim_port = 0', `sim_boot_seconds = ${o.bootSeconds ?? 0}`],
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
export function runSiteCommand(args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return runProcess({
    command: process.execPath,
    args: [SITE_BIN, ...args],
    name: 'protector-site',
    timeoutMs,
  });
}

export interface SiteProcess {
  readonly name: string;
  readonly configPath: string;
  /** GraphQL endpoint, from `protector-site <name> ready at <url>`. */
  readonly url: string;
  /** Base URL of the service (the GraphQL URL without /graphql). */
  readonly baseUrl: string;
  /** Keystone v3 URL of the site's simulated cloud, from the line announcing it. */
  readonly keystoneUrl: string;
  readonly process: RunningProcess;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/**
 * Starts `protector-site --config <file>` (a config binding port 0, as {@link writeSiteConfig} writes)
 * and reads where it listens from its ready line and where its simulated cloud does from the line
 * announcing it.
 */
export async function startSiteProcess(configPath: string, timeoutMs = 30_000): Promise<SiteProcess> {
  const proc = await startProcess({
    command: process.execPath,
    args: [SITE_BIN, '--config', configPath],
    name: 'protector-site',
    ready: /protector-site (\S+) ready at (\S+)/,
    timeoutMs,
  });
  try {
    const ks = await proc.waitForLine(/simulated OpenStack cloud of site \S+ at \S+ \(Keystone (\S+)\)/, {
      timeoutMs: 5000,
      what: "protector-site's simulated cloud line",
    });
    const url = proc.ready[2]!;
    return {
      name: proc.ready[1]!,
      configPath,
      url,
      baseUrl: url.replace(/\/graphql$/, ''),
      keystoneUrl: ks[1]!,
      process: proc,
      kill: () => proc.kill(),
      stop: () => proc.stop(5000),
    };
  } catch (err) {
    await proc.kill();
    throw err;
  }
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
