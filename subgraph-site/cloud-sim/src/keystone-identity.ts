/**
 * The Keystone identity API: projects (list, show, create, update, delete) and domains (list, show)
 * here, users in keystone-users.ts, roles, grants and role assignments in keystone-assignments.ts.
 * Status codes, bodies and messages are Keystone's (checked against a real Keystone 22 by
 * keystone-contract.test.ts and keystone-tokens-contract.test.ts).
 */
import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import { ApiError, type ApiRequest, type Route } from './http.js';
import { assignmentRoutes } from './keystone-assignments.js';
import {
  type AppCredentialDoc,
  type AssignmentDoc,
  collectionLinks,
  type DomainDoc,
  extrasOf,
  matchesFilters,
  notImplemented,
  type ProjectDoc,
  projectAncestors,
  projectSubtree,
  projectView,
  requireAdmin,
  revokeTokens,
} from './keystone-model.js';
import { PROJECT_CREATE, PROJECT_UPDATE, validateBody } from './keystone-schema.js';
import { userRoutes } from './keystone-users.js';

/** Keystone's own project attributes; any other key of a request body is kept as an extra attribute. */
const PROJECT_ATTRIBUTES = new Set([
  'id',
  'name',
  'domain_id',
  'description',
  'enabled',
  'parent_id',
  'is_domain',
  'tags',
  'options',
  'links',
]);

/** Keystone's 'max_project_tree_depth' default: projects below a domain, the new one included. */
const MAX_PROJECT_DEPTH = 5;

const conflict = (name: string, id: string) =>
  new ApiError(
    409,
    'Conflict occurred attempting to store project - it is not permitted to have two projects with either ' +
      `the same name or same id in the same domain: name is ${name}, project id ${id}.`,
  );

function assertNameFree(ctx: SimContext, name: string, domainId: string, id: string, self?: string): void {
  const taken = ctx.store.list<ProjectDoc>(
    'project',
    (p) => p.name === name && p.domain_id === domainId && p.id !== self,
  );
  if (taken.length > 0) throw conflict(name, id);
}

/** Options (`immutable`) and projects acting as domains are not simulated: Keystone's 501. */
function refuseUnsimulated(body: Record<string, unknown>): void {
  const options = body.options as Record<string, unknown> | undefined;
  if (body.is_domain === true || (options && Object.keys(options).length > 0)) throw notImplemented();
}

function createProject(ctx: SimContext, req: ApiRequest): Record<string, unknown> {
  requireAdmin(req, 'create_project');
  const body = validateBody(req.body, 'project', PROJECT_CREATE);
  refuseUnsimulated(body);
  const id = randomUUID().replaceAll('-', '');
  const domainId = (body.domain_id as string | null | undefined) || 'default';
  const parentId = (body.parent_id as string | null | undefined) || domainId;
  const name = (body.name as string).trim();
  // Keystone answers the parent's and domain's absence with 400 here, not 404.
  if (!ctx.store.get<DomainDoc>('domain', domainId))
    throw new ApiError(400, `Could not find domain: ${domainId}.`);
  let parent: ProjectDoc | undefined;
  if (parentId !== domainId) {
    parent = ctx.store.get<ProjectDoc>('project', parentId);
    if (!parent) {
      if (ctx.store.get<DomainDoc>('domain', parentId)) {
        throw new ApiError(
          400,
          `Cannot create project, the parent (${parentId}) is acting as a domain, but this project's domain id (${domainId}) does not match the parent's id.`,
        );
      }
      throw new ApiError(400, `Could not find project: ${parentId}.`);
    }
    if (parent.domain_id !== domainId) {
      throw new ApiError(
        400,
        `Cannot create project, since it specifies its domain_id ${domainId}, but specifies a parent in a different domain (${parent.domain_id}).`,
      );
    }
    const branch = [...projectAncestors(ctx, parent).reverse(), parent];
    const disabled = branch.find((p) => !p.enabled);
    if (disabled) {
      throw new ApiError(
        400,
        `cannot create a project in a branch containing a disabled project: ${disabled.id}`,
      );
    }
    if (branch.length + 1 > MAX_PROJECT_DEPTH) {
      throw new ApiError(403, `Max hierarchy depth reached for ${parentId} branch.`);
    }
  }
  assertNameFree(ctx, name, domainId, id);
  const project: ProjectDoc = {
    id,
    name,
    domain_id: domainId,
    description: body.description === undefined ? '' : (body.description as string | null),
    enabled: body.enabled !== false,
    ...(parent ? { parent_id: parent.id } : {}),
    tags: (body.tags as string[] | undefined) ?? [],
    extra: extrasOf(body, PROJECT_ATTRIBUTES),
  };
  ctx.store.put('project', project);
  return { project: projectView(project, req.baseUrl) };
}

function updateProject(ctx: SimContext, req: ApiRequest): Record<string, unknown> {
  requireAdmin(req, 'update_project');
  const body = validateBody(req.body, 'project', PROJECT_UPDATE);
  const id = req.params.id ?? '';
  if (body.id !== undefined && body.id !== null && body.id !== id)
    throw new ApiError(400, 'Cannot change ID');
  const project = ctx.store.get<ProjectDoc>('project', id);
  if (!project) throw new ApiError(404, `Could not find project: ${id}.`);
  if ('domain_id' in body && body.domain_id !== project.domain_id) {
    throw new ApiError(400, 'Cannot change Domain ID');
  }
  if ('parent_id' in body && body.parent_id !== (project.parent_id ?? project.domain_id)) {
    throw new ApiError(403, 'Update of `parent_id` is not allowed.');
  }
  if ('is_domain' in body && body.is_domain !== false) {
    throw new ApiError(400, 'Update of `is_domain` is not allowed.');
  }
  refuseUnsimulated({ options: body.options });
  const enabled = body.enabled === undefined ? project.enabled : body.enabled === true;
  if (!project.enabled && enabled && projectAncestors(ctx, project).some((p) => !p.enabled)) {
    throw new ApiError(403, `Cannot enable project ${id} since it has disabled parents`);
  }
  if (project.enabled && !enabled && projectSubtree(ctx, id).some((p) => p.enabled)) {
    throw new ApiError(403, `Cannot disable project ${id} since its subtree contains enabled projects.`);
  }
  const name = typeof body.name === 'string' ? body.name.trim() : project.name;
  // Keystone itself fails with a 500 here unless the body repeats the id; the conflict is what it means.
  if (name !== project.name) assertNameFree(ctx, name, project.domain_id, id, id);
  const updated: ProjectDoc = {
    ...project,
    name,
    enabled,
    ...('description' in body ? { description: body.description as string | null } : {}),
    ...(Array.isArray(body.tags) ? { tags: body.tags as string[] } : {}),
    extra: { ...project.extra, ...extrasOf(body, PROJECT_ATTRIBUTES) },
  };
  // Disabling records no revocation: a token of the project fails validation while it is disabled.
  ctx.store.put('project', updated);
  return { project: projectView(updated, req.baseUrl, true) };
}

function deleteProject(ctx: SimContext, req: ApiRequest): void {
  requireAdmin(req, 'delete_project');
  const id = req.params.id ?? '';
  if (!ctx.store.get<ProjectDoc>('project', id)) throw new ApiError(404, `Could not find project: ${id}.`);
  if (ctx.store.list<ProjectDoc>('project', (p) => p.parent_id === id).length > 0) {
    throw new ApiError(
      403,
      `Cannot delete the project ${id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`,
    );
  }
  ctx.store.transaction(() => {
    ctx.store.delete('project', id);
    for (const a of ctx.store.list<AssignmentDoc>('assignment', (x) => x.project_id === id))
      ctx.store.delete('assignment', a.id);
    for (const c of ctx.store.list<AppCredentialDoc>('app_credential', (x) => x.project_id === id))
      ctx.store.delete('app_credential', c.id);
    revokeTokens(ctx, { projectId: id });
  });
}

function projectRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v3/projects',
      op: 'list_projects',
      handler: (req) => {
        requireAdmin(req, 'list_projects');
        const projects = ctx.store
          .list<ProjectDoc>('project')
          .map((p) => projectView(p, req.baseUrl))
          .filter((p) => matchesFilters(req, p, ['name', 'domain_id', 'parent_id', 'enabled']));
        return { status: 200, body: { projects, links: collectionLinks(req) } };
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
      method: 'POST',
      path: '/v3/projects',
      op: 'create_project',
      handler: (req) => ({ status: 201, body: ctx.store.transaction(() => createProject(ctx, req)) }),
    },
    {
      method: 'PATCH',
      path: '/v3/projects/:id',
      op: 'update_project',
      handler: (req) => ({ status: 200, body: ctx.store.transaction(() => updateProject(ctx, req)) }),
    },
    {
      method: 'DELETE',
      path: '/v3/projects/:id',
      op: 'delete_project',
      handler: (req) => {
        deleteProject(ctx, req);
        return { status: 204 };
      },
    },
  ];
}

/** `keystone-manage db_sync` creates the default domain with this description. */
const DEFAULT_DOMAIN_DESCRIPTION = 'The default domain';

function domainView(d: DomainDoc, baseUrl: string): Record<string, unknown> {
  return {
    id: d.id,
    name: d.name,
    description: d.description ?? (d.id === 'default' ? DEFAULT_DOMAIN_DESCRIPTION : ''),
    enabled: true,
    tags: [],
    options: {},
    links: { self: `${baseUrl}/v3/domains/${d.id}` },
  };
}

/** The domains (read only: the simulator has its seeded ones). */
function domainRoutes(ctx: SimContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v3/domains',
      op: 'list_domains',
      handler: (req) => {
        requireAdmin(req, 'list_domains');
        const domains = ctx.store
          .list<DomainDoc>('domain')
          .map((d) => domainView(d, req.baseUrl))
          .filter((d) => matchesFilters(req, d, ['name', 'enabled']));
        return { status: 200, body: { domains, links: collectionLinks(req) } };
      },
    },
    {
      method: 'GET',
      path: '/v3/domains/:id',
      op: 'get_domain',
      handler: (req) => {
        const domain = ctx.store.get<DomainDoc>('domain', req.params.id ?? '');
        // The admin, or a token of a project in the domain.
        const own =
          req.auth.projectId !== null &&
          ctx.store.get<ProjectDoc>('project', req.auth.projectId)?.domain_id === domain?.id;
        if (!domain || !own) requireAdmin(req, 'get_domain');
        if (!domain) throw new ApiError(404, `Could not find domain: ${req.params.id}.`);
        return { status: 200, body: { domain: domainView(domain, req.baseUrl) } };
      },
    },
  ];
}

/** The identity routes: `/v3/projects`, `/v3/domains`, `/v3/users`, `/v3/roles`, grants, `/v3/role_assignments`, a user's projects. */
export function identityRoutes(ctx: SimContext): Route[] {
  return [...projectRoutes(ctx), ...domainRoutes(ctx), ...userRoutes(ctx), ...assignmentRoutes(ctx)];
}
