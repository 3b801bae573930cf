/**
 * Keystone's stored identities (domains, projects, users, roles, assignments, application
 * credentials, catalog entries), secret hashing, role resolution with implied roles, lookups by
 * id or name, and the admin checks the identity API applies.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, isRecord } from './http.js';

/** A salted SHA-256 of a password or application-credential secret. */
export interface StoredSecret {
  salt: string;
  hash: string;
}

/** A stored Keystone domain. */
export interface DomainDoc {
  id: string;
  name: string;
  description?: string;
}

/** A stored Keystone project; `parent_id` absent means its domain, `extra` holds attributes Keystone has no column for. */
export interface ProjectDoc {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  enabled: boolean;
  parent_id?: string;
  tags?: string[];
  extra?: Record<string, unknown>;
}

/** A stored Keystone user with its hashed password (null: the user cannot authenticate with one). */
export interface UserDoc {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id?: string;
  password: StoredSecret | null;
  /** Attributes Keystone keeps in its `extra` column (`description`, `email`, ...), shown at the top level. */
  extra?: Record<string, unknown>;
}

/** A stored Keystone role. */
export interface RoleDoc {
  id: string;
  name: string;
}

/** A role of a user on a project. */
export interface AssignmentDoc {
  id: string;
  user_id: string;
  project_id: string;
  role_id: string;
}

/**
 * A stored application credential with its hashed secret. `project_id` is null when it was made with
 * an unscoped token (Keystone allows it); `expires_at` is an ISO time, UTC; `description` and
 * `unrestricted` are null when the request left them out, as Keystone keeps them.
 */
export interface AppCredentialDoc {
  id: string;
  name: string;
  description: string | null;
  user_id: string;
  project_id: string | null;
  role_ids: string[];
  secret: StoredSecret;
  expires_at: string | null;
  unrestricted: boolean | null;
}

/** A catalog entry; `path` is appended to the cloud's base URL, `$(project_id)s` substituted. */
export interface CatalogServiceDoc {
  id: string;
  type: string;
  name: string;
  path: string;
  description?: string;
}

/** Roles implied by a role, as Keystone's default implied-role rules (admin > member > reader). */
export const IMPLIED_ROLES: Record<string, string[]> = { admin: ['member', 'reader'], member: ['reader'] };

/** Hashes a secret with a fresh salt. */
export function hashSecret(secret: string): StoredSecret {
  const salt = randomBytes(16).toString('hex');
  return { salt, hash: createHash('sha256').update(salt).update(secret).digest('hex') };
}

export function checkSecret(stored: StoredSecret, secret: string): boolean {
  const hash = createHash('sha256').update(stored.salt).update(secret).digest();
  return timingSafeEqual(hash, Buffer.from(stored.hash, 'hex'));
}

/** The role names a user holds on a project, implied roles included. */
export function effectiveRoles(ctx: SimContext, roleIds: readonly string[]): { id: string; name: string }[] {
  const roles = ctx.store.list<RoleDoc>('role');
  const names = new Set<string>();
  for (const id of roleIds) {
    const role = roles.find((r) => r.id === id);
    if (!role) continue;
    names.add(role.name);
    for (const implied of IMPLIED_ROLES[role.name] ?? []) names.add(implied);
  }
  return roles.filter((r) => names.has(r.name)).map((r) => ({ id: r.id, name: r.name }));
}

export function assignedRoleIds(ctx: SimContext, userId: string, projectId: string): string[] {
  return ctx.store
    .list<AssignmentDoc>('assignment', (a) => a.user_id === userId && a.project_id === projectId)
    .map((a) => a.role_id);
}

export function domainRef(ctx: SimContext, id: string): DomainDoc {
  const domain = ctx.store.get<DomainDoc>('domain', id);
  return { id, name: domain?.name ?? id };
}

/** Resolves `{id}` or `{name}` of a domain. */
function findDomainId(ctx: SimContext, ref: unknown): string | undefined {
  if (!isRecord(ref)) return 'default';
  if (typeof ref.id === 'string') return ref.id;
  if (typeof ref.name === 'string') {
    return ctx.store.list<DomainDoc>('domain', (d) => d.name === ref.name)[0]?.id;
  }
  return undefined;
}

export function findUser(ctx: SimContext, ref: Record<string, unknown>): UserDoc | undefined {
  if (typeof ref.id === 'string') return ctx.store.get<UserDoc>('user', ref.id);
  const domainId = findDomainId(ctx, ref.domain);
  return ctx.store.list<UserDoc>('user', (u) => u.name === ref.name && u.domain_id === domainId)[0];
}

export function findProject(ctx: SimContext, ref: Record<string, unknown>): ProjectDoc | undefined {
  if (typeof ref.id === 'string') return ctx.store.get<ProjectDoc>('project', ref.id);
  const domainId = findDomainId(ctx, ref.domain);
  return ctx.store.list<ProjectDoc>('project', (p) => p.name === ref.name && p.domain_id === domainId)[0];
}

/** The parent of a project: a project, or undefined when its parent is its domain. */
export function parentProject(ctx: SimContext, project: ProjectDoc): ProjectDoc | undefined {
  const parentId = project.parent_id ?? project.domain_id;
  return parentId === project.domain_id ? undefined : ctx.store.get<ProjectDoc>('project', parentId);
}

/** A project's ancestors that are projects, its parent first (its domain is not among them). */
export function projectAncestors(ctx: SimContext, project: ProjectDoc): ProjectDoc[] {
  const out: ProjectDoc[] = [];
  for (let p = parentProject(ctx, project); p && out.length < 64; p = parentProject(ctx, p)) out.push(p);
  return out;
}

/** Every project below `projectId`, at any depth. */
export function projectSubtree(ctx: SimContext, projectId: string): ProjectDoc[] {
  const all = ctx.store.list<ProjectDoc>('project');
  const out: ProjectDoc[] = [];
  const walk = (id: string) => {
    for (const child of all.filter((p) => p.parent_id === id && p.id !== id)) {
      if (out.includes(child)) continue;
      out.push(child);
      walk(child.id);
    }
  };
  walk(projectId);
  return out;
}

/**
 * A Keystone revocation event: it ends every token issued at or before `issued_before` (ms) whose
 * user, project and audit id match the ones it names. Keystone's tokens carry their issue time to
 * the second, so a token issued later in the same second as the event is revoked too.
 */
export interface RevocationEvent {
  user_id?: string;
  project_id?: string;
  audit_id?: string;
  issued_before: number;
}

const REVOCATION_EVENTS = 'keystone.revocation_events';

/** How long an expired token still validates with `?allow_expired` (Keystone's `[token] allow_expired_window`). */
export const ALLOW_EXPIRED_WINDOW_MS = 172_800_000;

/** The revocation events that can still match a token (none older than a token's life and its window). */
export function revocationEvents(ctx: SimContext): RevocationEvent[] {
  const text = ctx.store.getMeta(REVOCATION_EVENTS);
  return text ? (JSON.parse(text) as RevocationEvent[]) : [];
}

/**
 * Records a revocation event, as Keystone does when a user is disabled, deleted or changes password
 * (`user_id`), a project is deleted (`project_id`) or a token is revoked (`audit_id`).
 */
export function revokeTokens(
  ctx: SimContext,
  who: { userId?: string; projectId?: string; auditId?: string },
): void {
  if (who.userId === undefined && who.projectId === undefined && who.auditId === undefined) return;
  const now = ctx.now();
  const oldest = now - ctx.tokenLifetimeMs - ALLOW_EXPIRED_WINDOW_MS;
  // One write transaction: processes sharing the store do not lose each other's events.
  ctx.store.transaction(() => {
    const events = revocationEvents(ctx).filter((e) => e.issued_before >= oldest);
    events.push({
      ...(who.userId === undefined ? {} : { user_id: who.userId }),
      ...(who.projectId === undefined ? {} : { project_id: who.projectId }),
      ...(who.auditId === undefined ? {} : { audit_id: who.auditId }),
      issued_before: now,
    });
    ctx.store.setMeta(REVOCATION_EVENTS, JSON.stringify(events));
  });
}

/** Keystone's `links` of a collection: the request's own URL, no paging. */
export const collectionLinks = (req: ApiRequest): Record<string, unknown> => ({
  next: null,
  self: `${req.baseUrl}${req.url}`,
  previous: null,
});

/** Keystone's 501 for what the simulator does not implement. */
export const notImplemented = (): ApiError =>
  new ApiError(501, 'The action you have requested has not been implemented.');

/** The attributes of a body Keystone stores in `extra` (`a-b` and `a:b` become `a_b`, as it normalizes them). */
export function extrasOf(body: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(body)
      .map(([k, v]) => [k.replace(/[:-]/g, '_'), v] as const)
      .filter(([k]) => !known.has(k)),
  );
}

/** A project as Keystone renders it; an update's answer also carries `extra` (Keystone does). */
export function projectView(p: ProjectDoc, baseUrl: string, withExtra = false): Record<string, unknown> {
  return {
    ...p.extra,
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    parent_id: p.parent_id ?? p.domain_id,
    is_domain: false,
    tags: p.tags ?? [],
    ...(withExtra ? { extra: p.extra ?? {} } : {}),
    options: {},
    links: { self: `${baseUrl}/v3/projects/${p.id}` },
  };
}

const BOOLEAN_FALSE = new Set(['0', 'false', 'f', 'no', 'n', 'off']);

/** Keystone's list filters: equality on strings, `enabled=false`-style on booleans. */
export function matchesFilters(
  req: ApiRequest,
  item: Record<string, unknown>,
  keys: readonly string[],
): boolean {
  return keys.every((key) => {
    if (!req.query.has(key)) return true;
    const wanted = req.query.get(key) ?? '';
    const actual = item[key];
    if (typeof actual === 'boolean') return actual === !BOOLEAN_FALSE.has(wanted.toLowerCase());
    return String(actual) === wanted;
  });
}

export const requireAdmin = (req: ApiRequest, action: string): void => {
  if (!req.auth.isAdmin) {
    throw new ApiError(403, `You are not authorized to perform the requested action: identity:${action}.`);
  }
};

export const requireSelfOrAdmin = (req: ApiRequest, userId: string | undefined, action: string): void => {
  if (req.auth.userId !== userId) requireAdmin(req, action);
};
