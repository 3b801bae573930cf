/**
 * Identity at the site: every request carries a Keystone token for this site, validated against this
 * site's Keystone and cached until it expires (bounded by `[keystone_authtoken] token_cache_time`).
 */
import { ProtectorError } from '@protector/schema';
import type { OpenStackClient } from '../openstack/index.js';

/** Who is calling, as this site's Keystone says. */
export interface Caller {
  readonly userId: string;
  readonly userName: string;
  readonly projectId: string | null;
  readonly roles: readonly string[];
  readonly expiresAt: number;
}

export const isAdmin = (c: Caller): boolean => c.roles.includes('admin');
/** The coordinator's service identity (role `service`) runs site-local steps. */
export const isService = (c: Caller): boolean => c.roles.includes('service');

/** Pulls the token from `X-Auth-Token` or `Authorization: Bearer`. */
export function tokenFromHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | null {
  const direct = headers['x-auth-token'];
  if (typeof direct === 'string' && direct) return direct;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m) return m[1]!;
  }
  return null;
}

export interface TokenValidator {
  validate(token: string | null): Promise<Caller>;
}

/** Validates tokens with the service client; caches accepted tokens until they expire (at most `cacheSeconds`). */
export function createTokenValidator(
  client: OpenStackClient,
  cacheSeconds: number,
  now = Date.now,
): TokenValidator {
  const cache = new Map<string, { caller: Caller; until: number }>();
  const inflight = new Map<string, Promise<Caller>>();
  return {
    async validate(token) {
      if (!token) {
        throw new ProtectorError(
          'UNAUTHENTICATED',
          "No Keystone token: send this site's token in X-Auth-Token (or Authorization: Bearer <token>).",
        );
      }
      const hit = cache.get(token);
      if (hit && hit.until > now()) return hit.caller;
      let pending = inflight.get(token);
      if (!pending) {
        pending = (async () => {
          let info: Awaited<ReturnType<OpenStackClient['validateToken']>>;
          try {
            info = await client.validateToken(token);
          } catch (err) {
            if (
              err instanceof ProtectorError &&
              (err.code === 'NOT_FOUND' || err.code === 'UNAUTHENTICATED')
            ) {
              throw new ProtectorError(
                'UNAUTHENTICATED',
                "The Keystone token is invalid or has expired; get a new one from this site's Keystone.",
              );
            }
            if (err instanceof ProtectorError && err.code === 'FORBIDDEN') {
              // Keystone refused *our* service user the right to validate tokens: a site misconfiguration,
              // not the caller's fault.
              throw new ProtectorError(
                'CLOUD_ERROR',
                "This site's service user may not validate tokens (identity:validate_token); give it the 'service' or 'admin' role in its project ([keystone_authtoken] username / project_name).",
              );
            }
            throw err;
          }
          const caller: Caller = {
            userId: info.userId,
            userName: info.userName,
            projectId: info.projectId,
            roles: info.roles,
            expiresAt: info.expiresAt.getTime(),
          };
          if (caller.expiresAt <= now()) {
            throw new ProtectorError('UNAUTHENTICATED', 'The Keystone token has expired; get a new one.');
          }
          cache.set(token, { caller, until: Math.min(caller.expiresAt, now() + cacheSeconds * 1000) });
          return caller;
        })().finally(() => inflight.delete(token));
        inflight.set(token, pending);
      }
      return pending;
    },
  };
}

export function requireAdmin(c: Caller, what: string): void {
  if (!isAdmin(c) && !isService(c)) {
    throw new ProtectorError('FORBIDDEN', `${what} needs the admin role on this site.`, { roles: c.roles });
  }
}

export function requireService(c: Caller, what: string): void {
  if (!isService(c)) {
    throw new ProtectorError(
      'FORBIDDEN',
      `${what} is a coordinator step and needs the service role on this site; user tokens cannot run it.`,
      { roles: c.roles },
    );
  }
}

/** May the caller see objects of `projectId`? Admins and the service see every project. */
export const canSeeProject = (c: Caller, projectId: string): boolean =>
  isAdmin(c) || isService(c) || c.projectId === projectId;
