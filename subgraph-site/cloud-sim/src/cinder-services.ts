/**
 * Cinder's services and pools: the volume backends the simulated Cinder runs (the FlashArray behind
 * replication-enabled types, and a local LVM one), `GET os-services` and
 * `GET scheduler-stats/get_pools` (both admin only, as Cinder's default policy has them), and the
 * rules manage-existing shares with them: finding the cinder-volume service of a host and the
 * scheduler's placement on a pool (the capabilities filter against the volume type's extra specs).
 */
import { CINDER_PROJECT_PATH, isReplicatedType, type VolumeTypeDoc } from './cinder-model.js';
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, atLeast, isoTime, type Route, requireRole } from './http.js';

/** The Cinder host of the array backend when none is given: `host@backend#pool`. */
export const DEFAULT_ARRAY_HOST = 'cinder@pure#pure';

/** Cinder's host strings: `host`, `host@backend`, `host@backend#pool` (volume_utils.extract_host). */
export function extractHost(host: string, level: 'host' | 'backend' | 'pool'): string | null {
  const [backend = '', pool] = host.split('#', 2) as [string, string | undefined];
  if (level === 'pool') return pool ?? null;
  if (level === 'backend') return backend;
  return backend.split('@', 1)[0] ?? backend;
}

/** Why `host` is not a full Cinder pool host (`host@backend#pool`), or undefined when it is one. */
export function poolHostProblem(host: string): string | undefined {
  // Cinder's own pattern for hosts (cinder/api/validation/parameter_types.py cinder_host), split in its parts.
  const part = /^[a-zA-Z0-9-._:/+[\]]+$/;
  const [backend = '', pool] = host.split('#');
  const [name = '', backendName] = backend.split('@');
  if (host.split('#').length !== 2 || backend.split('@').length !== 2) {
    return `'${host}' is not of the form host@backend#pool`;
  }
  if (![name, backendName ?? '', pool ?? ''].every((p) => part.test(p))) {
    return `'${host}' has characters a Cinder host cannot have (letters, digits and - . _ : / + [ ] only in each part)`;
  }
  return undefined;
}

/** One volume backend: its cinder-volume service (`host@backend`), its one pool and what it reports. */
export interface VolumeBackendInfo {
  /** `host@backend`, the cinder-volume service's host. */
  readonly service: string;
  /** `host@backend#pool`, the pool's name in get_pools. */
  readonly pool: string;
  /** True for the FlashArray backend (its volumes live on the array behind the cloud). */
  readonly array: boolean;
  readonly capabilities: Readonly<Record<string, unknown>>;
}

/** The backends of the simulated Cinder, from the array backend's host (see {@link DEFAULT_ARRAY_HOST}). */
export function volumeBackends(arrayHost: string): VolumeBackendInfo[] {
  const host = extractHost(arrayHost, 'host') ?? 'cinder';
  const arrayPool = extractHost(arrayHost, 'pool') ?? 'pure';
  const pure: VolumeBackendInfo = {
    service: extractHost(arrayHost, 'backend') ?? arrayHost,
    pool: arrayHost,
    array: true,
    // What Cinder's Pure driver reports (cinder/volume/drivers/pure.py _update_volume_stats); it reports
    // no pools, so the scheduler names its one pool after volume_backend_name.
    capabilities: {
      pool_name: arrayPool,
      volume_backend_name: arrayPool,
      vendor_name: 'Pure Storage',
      driver_version: '22.0.iscsi',
      storage_protocol: 'iSCSI',
      consistencygroup_support: true,
      thin_provisioning_support: true,
      multiattach: true,
      consistent_group_replication_enabled: true,
      consistent_group_snapshot_enabled: true,
      QoS_support: true,
      total_capacity_gb: 10240.0,
      free_capacity_gb: 9216.0,
      reserved_percentage: 0,
      replication_enabled: true,
      replication_type: ['async', 'sync'],
      replication_count: 1,
    },
  };
  const lvm: VolumeBackendInfo = {
    service: `${host}@lvm`,
    pool: `${host}@lvm#lvm`,
    array: false,
    // What the LVM driver reports (cinder/volume/drivers/lvm.py): one pool named after volume_backend_name.
    capabilities: {
      pool_name: 'lvm',
      volume_backend_name: 'lvm',
      vendor_name: 'Open Source',
      driver_version: '3.0.0',
      storage_protocol: 'iSCSI',
      total_capacity_gb: 1024.0,
      free_capacity_gb: 1000.0,
      reserved_percentage: 0,
      thin_provisioning_support: false,
      multiattach: true,
    },
  };
  return pure.service === lvm.service ? [pure] : [pure, lvm];
}

/** The Cinder services of the simulated cloud: the scheduler and one cinder-volume per backend. */
function services(ctx: SimContext): { binary: string; host: string }[] {
  const host = extractHost(ctx.arrayHost, 'host') ?? 'cinder';
  return [
    { binary: 'cinder-scheduler', host },
    ...volumeBackends(ctx.arrayHost).map((b) => ({ binary: 'cinder-volume', host: b.service })),
  ];
}

/**
 * The database's host match (cinder/db/api.py _filter_host): a value with a pool matches exactly, one
 * with a backend matches it and its pools, a bare host matches it, its backends and pools.
 */
function hostMatches(stored: string, value: string): boolean {
  if (value.includes('#')) return stored === value;
  if (value.includes('@')) return stored === value || stored.startsWith(`${value}#`);
  return stored === value || stored.startsWith(`${value}@`) || stored.startsWith(`${value}#`);
}

/** The cinder-volume service `host` (any level) runs on, as volume/api.py _get_service_by_host_cluster finds it. */
export function findVolumeService(ctx: SimContext, host: string): VolumeBackendInfo | undefined {
  const backend = extractHost(host, 'backend') ?? host;
  return volumeBackends(ctx.arrayHost).find((b) => hostMatches(b.service, backend));
}

/** One extra spec against a capability, as cinder/scheduler/filters/extra_specs_ops.py matches them. */
function specMatches(value: unknown, req: string): boolean {
  const words = req.split(/\s+/).filter(Boolean);
  const op = words.shift();
  const bool = (v: unknown) => ['1', 't', 'true', 'on', 'y', 'yes'].includes(String(v).toLowerCase());
  const num = (v: unknown) => Number(v);
  const ops: Record<string, (x: unknown, y: string) => boolean> = {
    '=': (x, y) => num(x) >= num(y),
    '<in>': (x, y) => String(x).includes(y),
    '<is>': (x, y) => bool(x) === bool(y),
    '==': (x, y) => num(x) === num(y),
    '!=': (x, y) => num(x) !== num(y),
    '>=': (x, y) => num(x) >= num(y),
    '<=': (x, y) => num(x) <= num(y),
    's==': (x, y) => String(x) === y,
    's!=': (x, y) => String(x) !== y,
    's<': (x, y) => String(x) < y,
    's<=': (x, y) => String(x) <= y,
    's>': (x, y) => String(x) > y,
    's>=': (x, y) => String(x) >= y,
  };
  if (op === '<or>') return words.filter((w) => w !== '<or>').includes(String(value));
  const method = op ? ops[op] : undefined;
  if (!method) return value === req;
  if (value === null || value === undefined) return false;
  return words.length > 0 && method(value, words[0] as string);
}

/** The capabilities filter: does the pool satisfy the type's unscoped (or `capabilities:`) extra specs? */
function satisfiesExtraSpecs(backend: VolumeBackendInfo, type: VolumeTypeDoc | undefined): boolean {
  for (const [key, req] of Object.entries(type?.extra_specs ?? {})) {
    const scope = key.split(':');
    if (scope.length > 1 && scope[0] !== 'capabilities') continue;
    if (scope[0] === 'capabilities') scope.shift();
    let cap: unknown = backend.capabilities;
    for (const part of scope) {
      if (typeof cap !== 'object' || cap === null || !(part in cap)) return false;
      cap = (cap as Record<string, unknown>)[part];
    }
    const values = Array.isArray(cap) ? cap : [cap];
    if (!values.some((v) => specMatches(v, req))) return false;
  }
  return true;
}

/**
 * The scheduler's choice of pool for a new volume of `type`: one whose capabilities satisfy the type's
 * extra specs; the array for replication-enabled types, else the local backend first. Undefined when no
 * pool can hold it (Cinder then puts the volume in status error: no valid backend was found).
 */
export function schedulePool(ctx: SimContext, type: VolumeTypeDoc): VolumeBackendInfo | undefined {
  const fits = volumeBackends(ctx.arrayHost).filter((b) => satisfiesExtraSpecs(b, type));
  return isReplicatedType(type) ? fits.find((b) => b.array) : (fits.find((b) => !b.array) ?? fits[0]);
}

/**
 * The scheduler's backend_passes_filters for manage-existing: the pool `host` names (any pool of the
 * backend when it names none) that can hold volumes of `type`; undefined when none can (the volume then
 * goes to error_managing, "Cannot place volume ... on ...").
 */
export function placeOnPool(
  ctx: SimContext,
  host: string,
  type: VolumeTypeDoc | undefined,
): VolumeBackendInfo | undefined {
  const ignorePool = extractHost(host, 'pool') === null;
  return volumeBackends(ctx.arrayHost).find(
    (b) => (ignorePool ? b.service === host : b.pool === host) && satisfiesExtraSpecs(b, type),
  );
}

function serviceView(ctx: SimContext, req: ApiRequest, s: { binary: string; host: string }) {
  const view: Record<string, unknown> = {
    binary: s.binary,
    host: s.host,
    zone: 'nova',
    status: 'enabled',
    state: 'up',
    // Services report every few seconds: the last report is "now" to the second.
    updated_at: isoTime(Math.floor(ctx.now() / 1000) * 1000),
  };
  if (atLeast(req.microversion, '3.49') && s.binary === 'cinder-volume') view.backend_state = 'up';
  if (atLeast(req.microversion, '3.7')) view.cluster = null;
  view.disabled_reason = null;
  if (s.binary === 'cinder-volume') {
    view.replication_status = 'disabled';
    view.active_backend_id = null;
    view.frozen = false;
  }
  return view;
}

/** `os-services` and `scheduler-stats/get_pools`, admin only. */
export function serviceRoutes(ctx: SimContext): Route[] {
  const p = CINDER_PROJECT_PATH;
  return [
    {
      method: 'GET',
      path: `${p}/os-services`,
      op: 'list_services',
      handler: (req) => {
        requireRole(req, 'volume_extension:services:index');
        const host = req.query.get('host');
        const binary = req.query.get('binary');
        const list = services(ctx).filter(
          (s) => (host === null || hostMatches(s.host, host)) && (binary === null || s.binary === binary),
        );
        return { status: 200, body: { services: list.map((s) => serviceView(ctx, req, s)) } };
      },
    },
    {
      method: 'GET',
      path: `${p}/scheduler-stats/get_pools`,
      op: 'get_pools',
      handler: (req) => {
        requireRole(req, 'scheduler_extension:scheduler_stats:get_pools');
        const detail = ['1', 't', 'true', 'on', 'y', 'yes'].includes(
          (req.query.get('detail') ?? '').toLowerCase(),
        );
        // Filters (name, volume_type) exist from 3.28 (and 3.35 for the type); older requests ignore them.
        const name = atLeast(req.microversion, '3.28') ? req.query.get('name') : null;
        const typeRef = atLeast(req.microversion, '3.35') ? req.query.get('volume_type') : null;
        const type = typeRef
          ? (ctx.store.get<VolumeTypeDoc>('volume_type', typeRef) ??
            ctx.store.list<VolumeTypeDoc>('volume_type', (t) => t.name === typeRef)[0])
          : undefined;
        if (typeRef && !type) throw new ApiError(404, `Volume type ${typeRef} could not be found.`);
        const pools = volumeBackends(ctx.arrayHost)
          .filter((b) => (name === null || b.pool === name) && (!type || satisfiesExtraSpecs(b, type)))
          .map((b) =>
            detail
              ? {
                  name: b.pool,
                  capabilities: {
                    ...b.capabilities,
                    allocated_capacity_gb: 0,
                    timestamp: isoTime(Math.floor(ctx.now() / 1000) * 1000),
                  },
                }
              : { name: b.pool },
          );
        return { status: 200, body: { pools } };
      },
    },
  ];
}
