/**
 * Keystone roles and role assignments: the roles (list, show), a user's grants on a project
 * (`PUT`/`HEAD`/`GET`/`DELETE /v3/projects/{p}/users/{u}/roles/{r}`), `/v3/role_assignments`
 * (direct, or `effective` with implied roles) and a user's projects (`/v3/auth/projects`,
 * `/v3/users/{u}/projects`).
 */
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, type Route } from './http.js';
import {
  type AssignmentDoc,
  collectionLinks,
  domainRef,
  IMPLIED_ROLES,
  matchesFilters,
  type ProjectDoc,
  projectView,
  type RoleDoc,
  requireAdmin,
  type UserDoc,
} from './keystone-model.js';

/** The roles `keystone-manage bootstrap` creates, immutable ones. */
const BOOTSTRAP_ROLES = new Set(['admin', 'member', 'reader']);

/** A role as Keystone's role API returns it (an application credential lists its roles so, without links). */
export function roleRef(r: RoleDoc): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    domain_id: null,
    description: null,
    options: BOOTSTRAP_ROLES.has(r.name) ? { immutable: true } : {},
  };
}

function roleView(r: RoleDoc, baseUrl: string): Record<string, unknown> {
  return { ...roleRef(r), links: { self: `${baseUrl}/v3/roles/${r.id}` } };
}

interface GrantTarget {
  role: RoleDoc;
  user: UserDoc | undefined;
  project: ProjectDoc;
}

/**
 * What a grant call names, looked up before the policy check as Keystone does (so an unknown
 * role, user or project is a 404 even for a caller the check would refuse).
 */
function grantTarget(ctx: SimContext, req: ApiRequest, action: string, userMayBeGone = false): GrantTarget {
  const { id: projectId = '', user_id: userId = '', role_id: roleId = '' } = req.params;
  const role = ctx.store.get<RoleDoc>('role', roleId);
  if (!role) throw new ApiError(404, `Could not find role: ${roleId}.`);
  const user = ctx.store.get<UserDoc>('user', userId);
  if (!user && !userMayBeGone) throw new ApiError(404, `Could not find user: ${userId}.`);
  const project = ctx.store.get<ProjectDoc>('project', projectId);
  if (!project) throw new ApiError(404, `Could not find project: ${projectId}.`);
  requireAdmin(req, action);
  return { role, user, project };
}

const assignmentId = (userId: string, projectId: string, roleId: string) =>
  `${userId}:${projectId}:${roleId}`;

function findGrant(ctx: SimContext, req: ApiRequest): AssignmentDoc {
  const { id: projectId = '', user_id: userId = '', role_id: roleId = '' } = req.params;
  const grant = ctx.store.list<AssignmentDoc>(
    'assignment',
    (a) => a.user_id === userId && a.project_id === projectId && a.role_id === roleId,
  )[0];
  if (!grant) {
    throw new ApiError(
      404,
      `Could not find role assignment with role: ${roleId}, user or group: ${userId}, project, domain, or system: ${projectId}.`,
    );
  }
  return grant;
}

/** A direct assignment, or one implied by `prior` (the role it was expanded from). */
interface ListedAssignment {
  assignment: AssignmentDoc;
  roleId: string;
  prior?: string;
}

/** Adds the roles each assignment implies, as Keystone's `effective` listing does (once per prior role). */
function withImpliedRoles(ctx: SimContext, direct: AssignmentDoc[]): ListedAssignment[] {
  const roles = ctx.store.list<RoleDoc>('role');
  const out: ListedAssignment[] = direct.map((assignment) => ({ assignment, roleId: assignment.role_id }));
  const seen = new Set<string>();
  for (let i = 0; i < out.length; i++) {
    const from = out[i] as ListedAssignment;
    const name = roles.find((r) => r.id === from.roleId)?.name ?? '';
    // Keystone's implied-role rules are one step each (admin > member > reader).
    const next = IMPLIED_ROLES[name]?.[0];
    const implied = roles.find((r) => r.name === next);
    if (!implied) continue;
    const key = `${from.assignment.user_id}:${from.assignment.project_id}:${implied.id}:${from.roleId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ assignment: from.assignment, roleId: implied.id, prior: from.roleId });
  }
  return out;
}

function listRoleAssignments(ctx: SimContext, req: ApiRequest): Record<string, unknown> {
  requireAdmin(req, 'list_role_assignments');
  const q = req.query;
  const names = q.has('include_names');
  // Only user grants on projects are simulated: group, domain and system assignments do not exist.
  const none = q.has('group.id') || q.has('scope.domain.id') || q.has('scope.system');
  const direct = ctx.store
    .list<AssignmentDoc>('assignment')
    .filter(
      (a) =>
        !none &&
        (!q.has('user.id') || a.user_id === q.get('user.id')) &&
        (!q.has('scope.project.id') || a.project_id === q.get('scope.project.id')),
    );
  const listed = (
    q.has('effective')
      ? withImpliedRoles(ctx, direct)
      : direct.map((a) => ({ assignment: a, roleId: a.role_id }))
  ).filter((l: ListedAssignment) => !q.has('role.id') || l.roleId === q.get('role.id'));
  const withDomain = (id: string, name: string | undefined, domainId: string | undefined) =>
    names ? { id, name, domain: domainRef(ctx, domainId ?? 'default') } : { id };
  const role_assignments = listed.map(({ assignment: a, roleId, prior }: ListedAssignment) => {
    const project = ctx.store.get<ProjectDoc>('project', a.project_id);
    const user = ctx.store.get<UserDoc>('user', a.user_id);
    const via = prior ?? roleId;
    return {
      links: {
        assignment: `${req.baseUrl}/v3/projects/${a.project_id}/users/${a.user_id}/roles/${via}`,
        // Keystone writes the implied role first in this link.
        ...(prior ? { prior_role: `${req.baseUrl}/v3/prior_role/${roleId}/implies/${prior}` } : {}),
      },
      scope: { project: withDomain(a.project_id, project?.name, project?.domain_id) },
      user: withDomain(a.user_id, user?.name, user?.domain_id),
      role: { id: roleId, ...(names ? { name: ctx.store.get<RoleDoc>('role', roleId)?.name } : {}) },
    };
  });
  return { role_assignments, links: collectionLinks(req) };
}

const GRANT_PATH = '/v3/projects/:id/users/:user_id/roles/:role_id';

function checkGrant(ctx: SimContext, req: ApiRequest) {
  grantTarget(ctx, req, 'check_grant');
  findGrant(ctx, req);
  return { status: 204 };
}

/** The role routes, the project-user grant routes, `/v3/role_assignments`, `/v3/auth/projects` and `/v3/users/{u}/projects`. */
export function assignmentRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v3/roles',
      op: 'list_roles',
      handler: (req) => {
        requireAdmin(req, 'list_roles');
        const roles = ctx.store
          .list<RoleDoc>('role')
          .map((r) => roleView(r, req.baseUrl))
          .filter((r) => matchesFilters(req, r, ['name']));
        return { status: 200, body: { roles, links: collectionLinks(req) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/roles/:id',
      op: 'get_role',
      handler: (req) => {
        const role = ctx.store.get<RoleDoc>('role', req.params.id ?? '');
        if (!role) throw new ApiError(404, `Could not find role: ${req.params.id}.`);
        requireAdmin(req, 'get_role');
        return { status: 200, body: { role: roleView(role, req.baseUrl) } };
      },
    },
    {
      method: 'PUT',
      path: GRANT_PATH,
      op: 'create_grant',
      handler: (req) => {
        const { role, user, project } = grantTarget(ctx, req, 'create_grant');
        const userId = user?.id ?? '';
        const id = assignmentId(userId, project.id, role.id);
        // Granting a role the user holds already is no error.
        if (!ctx.store.get<AssignmentDoc>('assignment', id)) {
          ctx.store.put<AssignmentDoc>('assignment', {
            id,
            user_id: userId,
            project_id: project.id,
            role_id: role.id,
          });
        }
        return { status: 204 };
      },
    },
    { method: 'HEAD', path: GRANT_PATH, op: 'check_grant', handler: (req) => checkGrant(ctx, req) },
    { method: 'GET', path: GRANT_PATH, op: 'check_grant', handler: (req) => checkGrant(ctx, req) },
    {
      method: 'DELETE',
      path: GRANT_PATH,
      op: 'revoke_grant',
      handler: (req) => {
        grantTarget(ctx, req, 'revoke_grant', true);
        // Keystone records no revocation here, and keeps the user's application credentials: the
        // user's tokens on the project (and the credentials' tokens) lose the role when next
        // validated, and fail once no role is left.
        ctx.store.delete('assignment', findGrant(ctx, req).id);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v3/role_assignments',
      op: 'list_role_assignments',
      handler: (req) => ({ status: 200, body: listRoleAssignments(ctx, req) }),
    },
    {
      method: 'GET',
      path: '/v3/auth/projects',
      op: 'list_auth_projects',
      handler: (req) => ({
        status: 200,
        body: { projects: projectsOf(ctx, req.auth.userId, req.baseUrl), links: collectionLinks(req) },
      }),
    },
    {
      method: 'GET',
      path: '/v3/users/:id/projects',
      op: 'list_user_projects',
      handler: (req) => {
        const userId = req.params.id ?? '';
        if (req.auth.userId !== userId) requireAdmin(req, 'list_user_projects');
        if (!ctx.store.get<UserDoc>('user', userId))
          throw new ApiError(404, `Could not find user: ${userId}.`);
        return {
          status: 200,
          body: { projects: projectsOf(ctx, userId, req.baseUrl), links: collectionLinks(req) },
        };
      },
    },
  ];
}

/** The projects a user has a role on, disabled ones included, as Keystone lists them. */
function projectsOf(ctx: SimContext, userId: string, baseUrl: string): Record<string, unknown>[] {
  const ids = new Set(
    ctx.store.list<AssignmentDoc>('assignment', (a) => a.user_id === userId).map((a) => a.project_id),
  );
  return ctx.store.list<ProjectDoc>('project', (p) => ids.has(p.id)).map((p) => projectView(p, baseUrl));
}
