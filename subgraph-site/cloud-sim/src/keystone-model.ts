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
}

/** A stored Keystone project. */
export interface ProjectDoc {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: boolean;
}

/** A stored Keystone user with its hashed password. */
export interface UserDoc {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id?: string;
  password: StoredSecret;
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

/** A stored application credential with its hashed secret. */
export interface AppCredentialDoc {
  id: string;
  name: string;
  description: string;
  user_id: string;
  project_id: string;
  role_ids: string[];
  secret: StoredSecret;
  expires_at: string | null;
  unrestricted: boolean;
}

/** A catalog entry; `path` is appended to the cloud's base URL, `$(project_id)s` substituted. */
export interface CatalogServiceDoc {
  id: string;
  type: string;
  name: string;
  path: string;
}

/** Roles implied by a role, as Keystone's default implied-role rules (admin > member > reader). */
const IMPLIED_ROLES: Record<string, string[]> = { admin: ['member', 'reader'], member: ['reader'] };

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

export const requireAdmin = (req: ApiRequest, action: string): void => {
  if (!req.auth.isAdmin) {
    throw new ApiError(403, `You are not authorized to perform the requested action: identity:${action}.`);
  }
};

export const requireSelfOrAdmin = (req: ApiRequest, userId: string | undefined, action: string): void => {
  if (req.auth.userId !== userId) requireAdmin(req, action);
};
