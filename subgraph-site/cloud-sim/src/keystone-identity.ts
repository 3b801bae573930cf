/** The Keystone identity read API: the caller's projects, projects, users, roles, role assignments. */
import type { SimContext } from './context.js';
import { ApiError, matchesQuery, type Route } from './http.js';
import {
  type AssignmentDoc,
  type ProjectDoc,
  type RoleDoc,
  requireAdmin,
  requireSelfOrAdmin,
  type UserDoc,
} from './keystone-model.js';

function projectView(p: ProjectDoc, baseUrl: string): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    is_domain: false,
    parent_id: p.domain_id,
    tags: [],
    options: {},
    links: { self: `${baseUrl}/v3/projects/${p.id}` },
  };
}

function userView(u: UserDoc, baseUrl: string): Record<string, unknown> {
  return {
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    ...(u.default_project_id ? { default_project_id: u.default_project_id } : {}),
    password_expires_at: null,
    options: {},
    links: { self: `${baseUrl}/v3/users/${u.id}` },
  };
}

/** The identity routes: `/v3/auth/projects`, `/v3/projects`, `/v3/users`, `/v3/roles`, `/v3/role_assignments`. */
export function identityRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v3/auth/projects',
      op: 'list_auth_projects',
      handler: (req) => {
        const ids = new Set(
          ctx.store
            .list<AssignmentDoc>('assignment', (a) => a.user_id === req.auth.userId)
            .map((a) => a.project_id),
        );
        const projects = ctx.store.list<ProjectDoc>('project', (p) => ids.has(p.id));
        return { status: 200, body: { projects: projects.map((p) => projectView(p, req.baseUrl)) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/projects',
      op: 'list_projects',
      handler: (req) => {
        requireAdmin(req, 'list_projects');
        const projects = ctx.store.list<ProjectDoc>('project').map((p) => projectView(p, req.baseUrl));
        return {
          status: 200,
          body: { projects: projects.filter((p) => matchesQuery(req.query, p, ['name', 'domain_id'])) },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/projects/:id',
      op: 'get_project',
      handler: (req) => {
        const project = ctx.store.get<ProjectDoc>('project', req.params.id ?? '');
        if (req.auth.projectId !== project?.id) requireAdmin(req, 'get_project');
        if (!project) throw new ApiError(404, `Could not find project: ${req.params.id}.`);
        return { status: 200, body: { project: projectView(project, req.baseUrl) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/users',
      op: 'list_users',
      handler: (req) => {
        requireAdmin(req, 'list_users');
        const users = ctx.store.list<UserDoc>('user').map((u) => userView(u, req.baseUrl));
        return {
          status: 200,
          body: { users: users.filter((u) => matchesQuery(req.query, u, ['name', 'domain_id'])) },
        };
      },
    },
    {
      method: 'GET',
      path: '/v3/users/:id',
      op: 'get_user',
      handler: (req) => {
        requireSelfOrAdmin(req, req.params.id, 'get_user');
        const user = ctx.store.get<UserDoc>('user', req.params.id ?? '');
        if (!user) throw new ApiError(404, `Could not find user: ${req.params.id}.`);
        return { status: 200, body: { user: userView(user, req.baseUrl) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/roles',
      op: 'list_roles',
      handler: (req) => {
        const roles = ctx.store
          .list<RoleDoc>('role')
          .map((r) => ({ ...r, domain_id: null, description: null }));
        return { status: 200, body: { roles: roles.filter((r) => matchesQuery(req.query, r, ['name'])) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/role_assignments',
      op: 'list_role_assignments',
      handler: (req) => {
        if (req.query.get('user.id') !== req.auth.userId) requireAdmin(req, 'list_role_assignments');
        const names = req.query.has('include_names');
        const assignments = ctx.store
          .list<AssignmentDoc>('assignment')
          .filter(
            (a) =>
              (!req.query.has('user.id') || a.user_id === req.query.get('user.id')) &&
              (!req.query.has('scope.project.id') || a.project_id === req.query.get('scope.project.id')) &&
              (!req.query.has('role.id') || a.role_id === req.query.get('role.id')),
          )
          .map((a) => ({
            role: {
              id: a.role_id,
              ...(names ? { name: ctx.store.get<RoleDoc>('role', a.role_id)?.name } : {}),
            },
            user: {
              id: a.user_id,
              ...(names ? { name: ctx.store.get<UserDoc>('user', a.user_id)?.name } : {}),
            },
            scope: {
              project: {
                id: a.project_id,
                ...(names ? { name: ctx.store.get<ProjectDoc>('project', a.project_id)?.name } : {}),
              },
            },
            links: {
              assignment: `${req.baseUrl}/v3/projects/${a.project_id}/users/${a.user_id}/roles/${a.role_id}`,
            },
          }));
        return { status: 200, body: { role_assignments: assignments } };
      },
    },
  ];
}
