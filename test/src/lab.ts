/**
 * The two-site lab: two protector-site processes (simulated clouds, mock arrays sharing one data dir)
 * and the gateway, all real processes on loopback, plus demo data. `npm start` runs it; end-to-end
 * tests start it with `startLab()` and drive it over HTTP and graphql-ws.
 * Ports: on a lab dir's first start every site service and simulated cloud listens on port 0, and the
 * lab reads the URLs they bound from their log lines and registers the sites with the gateway at those
 * URLs. A site keeps them from then on (`ports.json` records what each bound; a restart asks for the
 * same ports): the gateway has them registered, and re-registering a site needs its registered
 * Keystone to answer. The gateway listens on `gatewayPort` (`npm start`: 4000), else on port 0.
 * State lives under one folder, so a second start carries on where the first stopped.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json } from '@protector/schema';
import { type RunningProcess, startProcess } from '@protector/test-kit/processes';
import { fetch } from 'undici';

const SITE_BIN = fileURLToPath(new URL('../../subgraph-site/dist/bin.js', import.meta.url));
const FA_SIM_BIN = fileURLToPath(new URL('../../storage-drivers/dist/fa-sim/cli.js', import.meta.url));
const GATEWAY_BIN = fileURLToPath(new URL('../../gateway/dist/bin.js', import.meta.url));

export interface LabSiteSpec {
  readonly name: string;
  /** Its mock arrays, this site's first. */
  readonly arrays: readonly [string, string];
}

export const LAB_SITES: readonly LabSiteSpec[] = [
  { name: 'boston', arrays: ['mock-array-a', 'mock-array-b'] },
  { name: 'seattle', arrays: ['mock-array-b', 'mock-array-a'] },
];

export interface LabOptions {
  /** State folder (configs, databases, mock arrays, logs). */
  readonly dir: string;
  /** Gateway port; absent or 0: a port the kernel picks (see `Lab.gatewayUrl`). */
  readonly gatewayPort?: number;
  readonly replicationIntervalSeconds?: number;
  readonly transferMs?: number;
  readonly bootSeconds?: number;
  /** Create the demo project's VMs and Protection Group. @default true */
  readonly demo?: boolean;
  /** Mirror child output to this stream (npm start), else only to log files. */
  readonly echo?: NodeJS.WritableStream;
  readonly healthIntervalSeconds?: number;
  /** Each site's `replication_monitor_interval`, seconds. @default 2 */
  readonly monitorIntervalSeconds?: number;
  /**
   * The arrays: `mock` (the sites' mock driver on one shared data dir) or `fa-sim` (the pure driver over
   * HTTPS to a FlashArray REST simulator process; both sites with the same `[storage]` values, seattle
   * with `local_array = secondary`). @default 'mock'
   */
  readonly storage?: 'mock' | 'fa-sim';
  /**
   * The gateway's `[api] introspection`. @default 'always' (the lab's playground loads the schema
   * before a token is pasted); the security suite runs the product default, 'authenticated'.
   */
  readonly introspection?: 'always' | 'authenticated' | 'never';
  /** The sites' `[DEFAULT] recovery_concurrency` (members booted at once). @default the product's */
  readonly recoveryConcurrency?: number;
  /** The sites' `[api] rate_limit` and `rate_limit_burst` (per caller). @default the product's */
  readonly siteRateLimit?: { readonly perSecond: number; readonly burst: number };
}

export interface LabSite {
  readonly name: string;
  /** GraphQL URL of the site service, as it reported it. */
  url: string;
  /** Keystone URL of the site's simulated cloud, as the site reported it. */
  keystoneUrl: string;
  readonly config: string;
  process: RunningProcess | null;
}

export interface Lab {
  readonly dir: string;
  /** Each site's own array by site name, e.g. `{ boston: 'mock-array-a', seattle: 'mock-array-b' }`. */
  readonly arrays: Readonly<Record<string, string>>;
  /** The SQLite file of the simulated arrays (mock or fa-sim), for tests to inspect and inject faults. */
  readonly arrayStoreFile: string;
  /** The arrays' management URLs (fa-sim), else null: what a replication policy names. */
  readonly arrayUrls: Readonly<Record<string, string>> | null;
  /** Replication interval of the demo group's policy. */
  readonly replicationIntervalSeconds: number;
  /** When this start added members to the demo group (null: it was complete already, or no demo). */
  demoChangedAt: Date | null;
  /** The gateway's GraphQL URL, as it reported it (with port 0, a restart gets a new one). */
  readonly gatewayUrl: string;
  readonly sites: Readonly<Record<string, LabSite>>;
  /** Tokens of the demo tenant (member of project `demo`) per site key. */
  tenantTokens(): Promise<Record<string, string>>;
  /** Admin tokens per site key. */
  adminTokens(): Promise<Record<string, string>>;
  /** A GraphQL request to the gateway with the given per-site tokens. */
  gql<T = Json>(
    query: string,
    variables?: Json,
    tokens?: Record<string, string>,
  ): Promise<{ data: T | null; errors?: { message: string; extensions?: Json; path?: unknown[] }[] }>;
  /** Kills a site's process (SIGKILL) as a datacenter loss would. */
  killSite(name: string): Promise<void>;
  /**
   * Starts a killed site again with the same state, on the ports it had; `crashAt` arms a crash point
   * (`PROTECTOR_CRASH_AT`) for fault tests.
   */
  startSite(name: string, opts?: { crashAt?: string }): Promise<void>;
  killGateway(): Promise<void>;
  startGateway(opts?: { crashAt?: string }): Promise<void>;
  /** The running process of a site, or of the gateway (`gateway`); null when it is not running. */
  process(name: string): RunningProcess | null;
  stop(): Promise<void>;
}

/** The ports a site service and its simulated cloud bound on the lab dir's first start. */
interface SitePorts {
  readonly api: number;
  readonly sim: number;
}

/** What `ports.json` holds (labs from before port 0 wrote the same `sites`, and a gateway port). */
interface PortsFile {
  sites: Record<string, SitePorts>;
}

const portOf = (url: string): number => Number(new URL(url).port);

/** The fa-sim process of a lab: its arrays' URLs and the certificate to trust. */
interface FaSim {
  readonly process: RunningProcess;
  /** URL by array name. */
  readonly urls: Record<string, string>;
  readonly certFile: string;
}

const FA_SIM_TOKEN = 'T-lab-fa-sim';

function writeSiteConf(
  dir: string,
  spec: LabSiteSpec,
  ports: SitePorts,
  o: LabOptions,
  faSim: FaSim | null,
): string {
  const state = join(dir, spec.name);
  mkdirSync(state, { recursive: true });
  const path = join(state, 'protector.conf');
  // fa-sim: both sites list the same arrays in the same order (boston's first); seattle's is the second.
  const [first, second] = LAB_SITES[0]!.arrays;
  const storage = faSim
    ? `use_mock_storage = False`
    : `use_mock_storage = True
mock_storage_dir = ${join(dir, 'mock_storage')}
mock_arrays = ${spec.arrays.join(',')}
mock_transfer_ms = ${o.transferMs ?? 1500}`;
  const arrays = faSim
    ? `primary_array_url = ${faSim.urls[first]}
primary_array_api_token = ${FA_SIM_TOKEN}
secondary_array_url = ${faSim.urls[second]}
secondary_array_api_token = ${FA_SIM_TOKEN}
local_array = ${spec.arrays[0] === first ? 'primary' : 'secondary'}
ca_bundle = ${faSim.certFile}
`
    : '';
  writeFileSync(
    path,
    `# Lab site ${spec.name}: written by the lab launcher; edit and restart to change.
[DEFAULT]
site_name = ${spec.name}
state_path = ${state}
log_dir = ${state}/log
${storage}
replication_monitor_interval = ${o.monitorIntervalSeconds ?? 2}
use_simulated_cloud = True
${o.recoveryConcurrency ? `recovery_concurrency = ${o.recoveryConcurrency}\n` : ''}
[storage]
${arrays}default_replication_interval = ${o.replicationIntervalSeconds ?? 30}
default_rpo_minutes = 5

[openstack]
sim_port = ${ports.sim}
sim_boot_seconds = ${o.bootSeconds ?? 2}

[api]
bind_host = 127.0.0.1
bind_port = ${ports.api}
${o.siteRateLimit ? `rate_limit = ${o.siteRateLimit.perSecond}\nrate_limit_burst = ${o.siteRateLimit.burst}\n` : ''}`,
  );
  return path;
}

function writeGatewayConf(dir: string, port: number, o: LabOptions): string {
  const state = join(dir, 'gateway');
  mkdirSync(state, { recursive: true });
  const path = join(state, 'gateway.conf');
  writeFileSync(
    path,
    `# Lab gateway: written by the lab launcher.
[DEFAULT]
state_path = ${state}

[api]
bind_host = 127.0.0.1
bind_port = ${port}
# The lab's playground loads the schema before a token is pasted; production keeps the default
# (authenticated: introspection needs a valid Keystone token).
introspection = ${o.introspection ?? 'always'}

[gateway]
subgraph_timeout = 5
health_interval = ${o.healthIntervalSeconds ?? 2}
`,
  );
  return path;
}

/**
 * Starts a service of the lab and waits for its ready line, `<name> ready at <url>` with the URL it
 * bound; its output goes to its log file (and `echo`).
 */
function startService(
  name: string,
  bin: string,
  config: string,
  logFile: string,
  echo?: NodeJS.WritableStream,
  crashAt?: string,
): Promise<RunningProcess> {
  return startProcess({
    command: process.execPath,
    args: [bin, '--config', config],
    name,
    env: { ...cleanEnv(), ...(crashAt ? { PROTECTOR_CRASH_AT: crashAt } : {}) },
    ready: new RegExp(`^${name} ready at (\\S+)`),
    timeoutMs: 60_000,
    logFile,
    echo,
  });
}

/** Starts fa-sim with the lab's two arrays on ports the kernel picks; reads their URLs from its output. */
async function startFaSim(o: LabOptions): Promise<FaSim> {
  const dataDir = join(o.dir, 'fa-sim');
  mkdirSync(dataDir, { recursive: true });
  const names = LAB_SITES[0]!.arrays;
  const proc = await startProcess({
    command: process.execPath,
    args: [
      FA_SIM_BIN,
      '--data-dir',
      dataDir,
      ...names.flatMap((n) => ['--array', `${n}:0`]),
      '--api-token',
      FA_SIM_TOKEN,
      '--transfer-ms',
      String(o.transferMs ?? 1500),
    ],
    name: 'fa-sim',
    env: cleanEnv(),
    ready: /^fa-sim: ready/,
    timeoutMs: 30_000,
    logFile: join(dataDir, 'fa-sim.log'),
    echo: o.echo,
  });
  const urls: Record<string, string> = {};
  for (const n of names) {
    urls[n] = (await proc.waitForLine(new RegExp(`^fa-sim: array ${n} listening on (\\S+)`)))[1]!;
  }
  const certFile = (await proc.waitForLine(/^fa-sim: TLS certificate \(use as CA bundle\): (\S+)/))[1]!;
  return { process: proc, urls, certFile };
}

/** The environment without PROTECTOR_* overrides from the caller's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROTECTOR_')));
}

/** A Keystone token from a lab site's simulated cloud. */
export async function keystoneToken(
  keystoneUrl: string,
  user: string,
  password: string,
  project: string,
): Promise<string> {
  const res = await fetch(`${keystoneUrl}/auth/tokens`, {
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
  if (res.status !== 201)
    throw new Error(`Keystone ${keystoneUrl} refused ${user}: HTTP ${res.status} ${await res.text()}`);
  return res.headers.get('x-subject-token')!;
}

export async function startLab(o: LabOptions): Promise<Lab> {
  mkdirSync(o.dir, { recursive: true });
  mkdirSync(join(o.dir, 'mock_storage'), { recursive: true });
  const portsFile = join(o.dir, 'ports.json');
  const bound: PortsFile = existsSync(portsFile)
    ? { sites: (JSON.parse(readFileSync(portsFile, 'utf8')) as Partial<PortsFile>).sites ?? {} }
    : { sites: {} };
  const sites: Record<string, LabSite> = {};
  let faSim: FaSim | null = null;
  const startSite = async (spec: LabSiteSpec, crashAt?: string) => {
    // Port 0 on the first start; the ports it bound then on every later one.
    const had = bound.sites[spec.name];
    const config = writeSiteConf(o.dir, spec, had ?? { api: 0, sim: 0 }, o, faSim);
    const proc = await startService(
      `protector-site ${spec.name}`,
      SITE_BIN,
      config,
      join(o.dir, spec.name, 'site.log'),
      o.echo,
      crashAt,
    ).catch((err: Error) => {
      if (!had) throw err;
      throw new Error(
        `${err.message}\nSite ${spec.name} listens on the ports it bound on its first start (API ${had.api}, ` +
          `cloud ${had.sim}; ${portsFile}), which the gateway has registered: if another program took one, ` +
          `stop it, or delete ${o.dir} for a fresh lab.`,
      );
    });
    try {
      const keystone = await proc.waitForLine(
        /simulated OpenStack cloud of site \S+ at \S+ \(Keystone (\S+)\)/,
        {
          timeoutMs: 10_000,
          what: `site ${spec.name}'s Keystone URL`,
        },
      );
      const site: LabSite = {
        name: spec.name,
        url: proc.ready[1]!,
        keystoneUrl: keystone[1]!,
        config,
        process: proc,
      };
      sites[spec.name] = site;
      if (!had) {
        bound.sites[spec.name] = { api: portOf(site.url), sim: portOf(site.keystoneUrl) };
        writeFileSync(portsFile, `${JSON.stringify(bound, null, 2)}\n`);
      }
    } catch (err) {
      await proc.kill();
      throw err;
    }
  };
  const gatewayConf = writeGatewayConf(o.dir, o.gatewayPort ?? 0, o);
  let gatewayProcess: RunningProcess | null = null;
  let gatewayUrl = '';
  const startGateway = async (opts: { crashAt?: string } = {}) => {
    const proc = await startService(
      'protector-gateway',
      GATEWAY_BIN,
      gatewayConf,
      join(o.dir, 'gateway', 'gateway.log'),
      o.echo,
      opts.crashAt,
    );
    gatewayProcess = proc;
    gatewayUrl = proc.ready[1]!;
  };
  const stop = async () => {
    await gatewayProcess?.stop(10_000);
    await Promise.all(Object.values(sites).map((s) => s.process?.stop(10_000)));
    await faSim?.process.stop(10_000);
  };
  try {
    if (o.storage === 'fa-sim') faSim = await startFaSim(o);
    await Promise.all(LAB_SITES.map((spec) => startSite(spec)));
    await startGateway();
  } catch (err) {
    await stop();
    throw err;
  }

  const tokens = (user: string, password: string, project: string) => async () => {
    const out: Record<string, string> = {};
    for (const s of Object.values(sites))
      out[s.name] = await keystoneToken(s.keystoneUrl, user, password, project);
    return out;
  };
  const tenantTokens = tokens('demo', 'demo', 'demo');
  const adminTokens = tokens('admin', 'admin', 'admin');

  const gql: Lab['gql'] = async (query, variables = {}, siteTokens = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [key, token] of Object.entries(siteTokens)) headers[`x-site-token-${key}`] = token;
    const res = await fetch(gatewayUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as never;
  };

  const lab: Lab = {
    dir: o.dir,
    arrays: Object.fromEntries(LAB_SITES.map((spec) => [spec.name, spec.arrays[0]])),
    arrayStoreFile: faSim
      ? join(o.dir, 'fa-sim', 'flasharray.sqlite')
      : join(o.dir, 'mock_storage', 'flasharray.sqlite'),
    arrayUrls: faSim?.urls ?? null,
    replicationIntervalSeconds: o.replicationIntervalSeconds ?? 30,
    demoChangedAt: null,
    get gatewayUrl() {
      return gatewayUrl;
    },
    sites,
    tenantTokens,
    adminTokens,
    gql,
    async killSite(name) {
      await sites[name]!.process?.kill();
      sites[name]!.process = null;
    },
    async startSite(name, opts = {}) {
      await startSite(LAB_SITES.find((s) => s.name === name)!, opts.crashAt);
    },
    process(name) {
      return name === 'gateway' ? gatewayProcess : (sites[name]?.process ?? null);
    },
    async killGateway() {
      await gatewayProcess?.kill();
      gatewayProcess = null;
    },
    startGateway: (opts) => startGateway(opts),
    stop,
  };
  try {
    await registerSites(lab);
    if (o.demo ?? true) lab.demoChangedAt = await seedDemo(lab);
  } catch (err) {
    await lab.stop();
    throw err;
  }
  return lab;
}

/** Registers both sites with the gateway (idempotent: a registered site is registered again unchanged). */
async function registerSites(lab: Lab): Promise<void> {
  const admin = await lab.adminTokens();
  for (const s of Object.values(lab.sites)) {
    const res = await lab.gql(
      `mutation($input: RegisterSiteInput!) { registerSite(input: $input) { name key } }`,
      {
        input: {
          name: s.name,
          key: s.name,
          description: `Lab site ${s.name}`,
          url: s.url,
          authUrl: s.keystoneUrl,
          serviceCredentials: { username: 'protector', password: 'protector', projectName: 'service' },
        },
      },
      admin,
    );
    if (res.errors?.length) throw new Error(`registerSite ${s.name}: ${res.errors[0]!.message}`);
  }
  // Tenant mapping: the demo project on each site is the same tenant.
  const projects: Record<string, string> = {};
  const tenant = await lab.tenantTokens();
  for (const s of Object.values(lab.sites)) {
    const res = await fetch(`${s.keystoneUrl}/auth/tokens`, {
      headers: { 'x-auth-token': tenant[s.name]!, 'x-subject-token': tenant[s.name]! },
    });
    projects[s.name] = ((await res.json()) as { token: { project: { id: string } } }).token.project.id;
  }
  const [a, b] = Object.keys(lab.sites) as [string, string];
  const res = await lab.gql(
    `mutation($input: SetTenantMappingsInput!) { setTenantMappings(input: $input) { sourceProjectId } }`,
    {
      input: {
        mappings: [
          { sourceSite: a, sourceProjectId: projects[a], targetSite: b, targetProjectId: projects[b] },
        ],
      },
    },
    admin,
  );
  if (res.errors?.length) throw new Error(`setTenantMappings: ${res.errors[0]!.message}`);
}

/** Calls a lab site's simulated cloud as the demo tenant. */
export async function cloudCall(
  site: LabSite,
  token: string,
  service: 'compute' | 'volume' | 'network',
  method: string,
  path: string,
  body?: unknown,
): Promise<Json> {
  const base = site.keystoneUrl.replace(/\/v3$/, '');
  let url: string;
  if (service === 'compute') url = `${base}/compute/v2.1${path}`;
  else if (service === 'network') url = `${base}/network/v2.0${path}`;
  else {
    const info = await fetch(`${site.keystoneUrl}/auth/tokens`, {
      headers: { 'x-auth-token': token, 'x-subject-token': token },
    });
    const project = ((await info.json()) as { token: { project: { id: string } } }).token.project.id;
    url = `${base}/volume/v3/${project}${path}`;
  }
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', 'x-auth-token': token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${url}: HTTP ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Json) : {};
}

async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Boots a VM from a new volume of `volumeType` on `site` as the tenant; returns its server id. */
export async function bootVm(
  site: LabSite,
  token: string,
  name: string,
  volumeType = 'replicated-ssd',
  /** On the tenant network `private` (a /24: about 240 ports), or on none (many VMs). */
  network: 'private' | 'none' = 'private',
): Promise<string> {
  const existing = (
    await cloudCall(site, token, 'compute', 'GET', `/servers?name=${encodeURIComponent(name)}`)
  ).servers as Json[];
  const found = existing.find((s) => s.name === name);
  if (found) return String(found.id);
  const base = site.keystoneUrl.replace(/\/v3$/, '');
  const images = (await (
    await fetch(`${base}/image/v2/images`, { headers: { 'x-auth-token': token } })
  ).json()) as { images: Json[] };
  const vol = (
    await cloudCall(site, token, 'volume', 'POST', '/volumes', {
      volume: { size: 1, name: `${name}-root`, volume_type: volumeType, imageRef: images.images[0]?.id },
    })
  ).volume as Json;
  await until(`volume ${name}-root`, async () => {
    const v = (await cloudCall(site, token, 'volume', 'GET', `/volumes/${vol.id}`)).volume as Json;
    return v.status === 'available';
  });
  const nets =
    network === 'none'
      ? []
      : ((await cloudCall(site, token, 'network', 'GET', '/networks?name=private')).networks as Json[]);
  const flavors = (await cloudCall(site, token, 'compute', 'GET', '/flavors')).flavors as Json[];
  const flavor = flavors.find((f) => f.name === 'm1.small') ?? flavors[0]!;
  const server = (
    await cloudCall(site, token, 'compute', 'POST', '/servers', {
      server: {
        name,
        flavorRef: flavor.id,
        networks: nets[0] ? [{ uuid: nets[0].id }] : 'none',
        block_device_mapping_v2: [
          { uuid: vol.id, source_type: 'volume', destination_type: 'volume', boot_index: 0 },
        ],
      },
    })
  ).server as Json;
  await until(`server ${name} ACTIVE`, async () => {
    const s = (await cloudCall(site, token, 'compute', 'GET', `/servers/${server.id}`)).server as Json;
    if (s.status === 'ERROR') throw new Error(`server ${name} went to ERROR: ${JSON.stringify(s.fault)}`);
    return s.status === 'ACTIVE';
  });
  return String(server.id);
}

/**
 * The demo workload: two VMs on boston in Protection Group `prod-web-app` with a policy and
 * mappings. Returns when it added members (null when the group had them all).
 */
export async function seedDemo(lab: Lab): Promise<Date | null> {
  let changedAt: Date | null = null;
  const tenant = await lab.tenantTokens();
  const boston = lab.sites.boston!;
  const seattle = lab.sites.seattle!;
  const found = await lab.gql<{ protectionGroup: { id: string; members: { name: string }[] } | null }>(
    `{ protectionGroup(name: "prod-web-app") { id members { name } } }`,
    {},
    tenant,
  );
  if (found.errors?.length) throw new Error(`demo: ${found.errors[0]!.message}`);
  const check = (res: { errors?: { message: string }[] }, what: string) => {
    if (res.errors?.length) throw new Error(`demo ${what}: ${res.errors[0]!.message}`);
  };
  let pg = found.data?.protectionGroup;
  if (!pg) {
    const created = await lab.gql<{ createProtectionGroup: { id: string } }>(
      `mutation { createProtectionGroup(input: { name: "prod-web-app", description: "Demo web tier", replicationType: ASYNC,
         primarySite: "boston", secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`,
      {},
      tenant,
    );
    check(created, 'createProtectionGroup');
    pg = { id: created.data!.createProtectionGroup.id, members: [] };
    check(
      await lab.gql(
        `mutation($interval: Int!, $primary: String!, $secondary: String!, $token: String!) {
         createReplicationPolicy(input: { protectionGroup: "prod-web-app", policy: {
           primaryArrayUrl: $primary, primaryArrayToken: $token, secondaryArrayUrl: $secondary,
           secondaryArrayToken: $token, purePgName: "pg-prod-web-app", replicationIntervalSeconds: $interval, rpoMinutes: 5 } }) { id } }`,
        {
          interval: lab.replicationIntervalSeconds,
          // The mock driver ignores the URLs; fa-sim's arrays are the ones the sites' [storage] names.
          primary: lab.arrayUrls?.[lab.arrays.boston!] ?? 'https://mock-array-a.lab',
          secondary: lab.arrayUrls?.[lab.arrays.seattle!] ?? 'https://mock-array-b.lab',
          // A policy's tokens are the ones its group's array calls use (the mock driver has none).
          token: lab.arrayUrls ? FA_SIM_TOKEN : 'T-lab-demo',
        },
        tenant,
      ),
      'createReplicationPolicy',
    );
    const ids = async (site: LabSite, kind: 'network' | 'flavor') => {
      if (kind === 'network')
        return (
          (await cloudCall(site, tenant[site.name]!, 'network', 'GET', '/networks?name=private'))
            .networks as Json[]
        )[0]!.id as string;
      return (
        (await cloudCall(site, tenant[site.name]!, 'compute', 'GET', '/flavors')).flavors as Json[]
      ).find((f) => f.name === 'm1.small')!.id as string;
    };
    const mappings = [];
    for (const kind of ['network', 'flavor'] as const) {
      mappings.push({
        kind: kind.toUpperCase(),
        sourceSite: 'boston',
        sourceId: await ids(boston, kind),
        targetSite: 'seattle',
        targetId: await ids(seattle, kind),
      });
    }
    check(
      await lab.gql(
        `mutation($m: [ResourceMappingInput!]!) { setResourceMappings(input: { protectionGroup: "prod-web-app", mappings: $m }) { id } }`,
        { m: mappings },
        tenant,
      ),
      'setResourceMappings',
    );
  }
  // web-1 (say, the database) comes up before web-2 on recovery.
  for (const [name, priority] of [
    ['web-1', 1],
    ['web-2', 2],
  ] as const) {
    if (pg.members.some((m) => m.name === name)) continue;
    await bootVm(boston, tenant.boston!, name);
    check(
      await lab.gql(
        `mutation { addMember(input: { protectionGroup: "prod-web-app", server: "${name}", bootPriority: ${priority} }) { id } }`,
        {},
        tenant,
      ),
      `addMember ${name}`,
    );
    changedAt = new Date();
  }
  return changedAt;
}

/**
 * Waits until the demo group has a complete replicated recovery point created after `since` (any,
 * when null), for up to three replication intervals; throws naming what it saw otherwise.
 */
export async function waitForReplication(
  lab: Lab,
  tenant: Record<string, string>,
  since: Date | null,
): Promise<true> {
  const deadline = Date.now() + 3 * lab.replicationIntervalSeconds * 1000 + 30_000;
  let last: string | null = null;
  for (;;) {
    const res = await lab.gql<{ protectionGroup: { lastReplicationAt: string | null } | null }>(
      '{ protectionGroup(name: "prod-web-app") { lastReplicationAt } }',
      {},
      tenant,
    );
    last = res.data?.protectionGroup?.lastReplicationAt ?? null;
    if (last && (!since || new Date(last) > since)) return true;
    if (Date.now() > deadline) {
      throw new Error(
        `prod-web-app has no replicated recovery point after ${since?.toISOString() ?? 'start'} (newest: ${last ?? 'none'}${
          res.errors?.length ? `; ${res.errors[0]!.message}` : ''
        })`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
