/**
 * Every change to a Protection Group: create, members, replication policy, resource and tenant
 * mappings, delete. Each is written to both sites with compare-and-set (the primary first, which checks
 * the rules against its cloud) and refused before anything is written when a site is down or the
 * copies differ.
 */
import { randomUUID } from 'node:crypto';
import {
  arrayUrlProblem,
  defaultStorageGroupName,
  flashArrayNameProblem,
  ProtectorError,
  policyNumberProblem,
  protectionGroupNameProblem,
} from '@protector/schema';
import {
  AddMembersDocument,
  ApplyProtectionGroupMetadataDocument,
  DeleteConsistencyGroupDocument,
  DeleteProtectionGroupReplicaDocument,
  DeleteStorageGroupDocument,
  EnsureConsistencyGroupDocument,
  EnsureStorageGroupDocument,
  type ProtectionGroupMemberInput,
  type ProtectionGroupMetadataInput,
  RemoveMemberDocument,
  type ReplicationPolicyInput,
  type ResourceMappingInput,
  ServersDocument,
  SetReplicationPolicyDocument,
  SetResourceMappingsDocument,
  SetTenantMappingsDocument,
  type TenantMappingFieldsFragment,
  type TenantMappingInput,
  TenantMappingsDocument,
  VolumeTypesDocument,
} from './generated/site-documents.js';
import { ProtectionGroups } from './protection-groups.js';
import {
  listReplicas,
  memberInput,
  noAnswer,
  peerUnreachable,
  type Replica,
  readReplica,
} from './replicas.js';
import { type CallerCredential, SERVICE, type SiteClient, untilTaken } from './site-client.js';
import type { CallerTokens, GroupView } from './site-registry.js';

/** The most servers one `addMembers` takes (a change is one site step per site). */
export const MAX_MEMBERS_PER_CHANGE = 1000;
/** How long the answer to a change waits out a site refusing the caller's read for rate or load. */
const ANSWER_AFTER_CHANGE_MS = 30_000;

export abstract class GroupChanges extends ProtectionGroups {
  // ---- changes to groups ----

  async createProtectionGroup(
    ctx: CallerTokens,
    input: {
      name: string;
      description?: string | null;
      replicationType: 'ASYNC' | 'SYNC';
      primarySite: string;
      secondarySite: string;
      volumeType: string;
      projectId?: string | null;
    },
  ): Promise<GroupView> {
    const badName = protectionGroupNameProblem(input.name);
    if (badName) throw new ProtectorError('BAD_USER_INPUT', badName);
    if (input.primarySite === input.secondarySite) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        'primarySite and secondarySite must be two different registered sites.',
      );
    }
    const primary = await this.client(input.primarySite);
    const secondary = await this.client(input.secondarySite);
    const who = await this.caller(ctx, primary.site);
    const isAdmin = who.roles.includes('admin');
    if (input.projectId && input.projectId !== who.projectId && !isAdmin) {
      throw new ProtectorError(
        'FORBIDDEN',
        `You may only create Protection Groups in your own project (${who.projectId}).`,
      );
    }
    const projectId = input.projectId ?? who.projectId;
    if (!projectId)
      throw new ProtectorError(
        'BAD_USER_INPUT',
        'Your token is not scoped to a project; give projectId or use a project-scoped token.',
      );
    // Both sites must answer before anything is written (the product refuses changes with a site down).
    // A missing token is the caller's problem (UNAUTHENTICATED), not a site outage.
    const credentials = new Map([primary, secondary].map((c) => [c, this.credential(ctx, c.site)] as const));
    const reachability = await Promise.all(
      [primary, secondary].map(async (c) => {
        try {
          return { client: c, types: await this.volumeTypes(c, credentials.get(c)!), error: null };
        } catch (err) {
          // Only a site that did not answer is down; a refused token is the caller's to fix.
          if (noAnswer(err)) return { client: c, types: [], error: err };
          throw err;
        }
      }),
    );
    const down = reachability.find((r) => r.error);
    if (down) throw peerUnreachable({ site: down.client.site.name, replica: null, error: down.error });
    // The group lives on both sites: the caller must be someone there too (its own project, mapped
    // by the tenant mappings, or an admin of that site).
    const peerProject = await this.peerProject(primary, secondary, projectId);
    const atPeer = await this.caller(ctx, secondary.site);
    if (atPeer.projectId !== peerProject && !atPeer.roles.includes('admin')) {
      throw new ProtectorError(
        'FORBIDDEN',
        `On site '${secondary.site.name}' the group belongs to project ${peerProject} (tenant mappings), but your token there is scoped to ${atPeer.projectId ?? 'no project'}; send a token of that project in X-Site-Token-${secondary.site.key}.`,
        { site: secondary.site.name },
      );
    }
    for (const r of reachability) {
      const vt = r.types.find((t) => t.name === input.volumeType);
      if (!vt) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `Volume type '${input.volumeType}' does not exist on site '${r.client.site.name}'; create it on both sites.`,
        );
      }
      if (!vt.replicationEnabled || (vt.replicationType && vt.replicationType !== input.replicationType)) {
        throw new ProtectorError(
          'VOLUME_TYPE_NOT_REPLICATED',
          `Volume type '${input.volumeType}' does not support replication. Set replication_enabled='<is> True' and replication_type='<in> ${input.replicationType.toLowerCase()}' on it on both sites (openstack volume type set ${input.volumeType} --property ...).`,
          { volumeType: input.volumeType, site: r.client.site.name },
        );
      }
    }
    const existing = await listReplicas(primary, this.credential(ctx, primary.site), {
      name: input.name,
      projectId,
    });
    if (existing.length)
      throw new ProtectorError(
        'ALREADY_EXISTS',
        `Protection Group '${input.name}' already exists in project ${projectId}.`,
      );
    const id = randomUUID();
    const storageGroupName = defaultStorageGroupName(input.name, id);
    const metadata: ProtectionGroupMetadataInput = {
      id,
      name: input.name,
      description: input.description ?? null,
      projectId,
      replicationType: input.replicationType,
      status: 'ACTIVE',
      currentPrimarySite: primary.site.name,
      secondarySite: secondary.site.name,
      metadataVersion: 1,
      syncStatus: 'IN_SYNC',
      lastSyncedAt: new Date().toISOString(),
      storageGroupName,
      volumeType: input.volumeType,
      members: [],
      policy: null,
      resourceMappings: [],
    };
    const key = (k: string) => ({ operationId: `create-${id}`, stepKey: k });
    await primary.step(ApplyProtectionGroupMetadataDocument, key('metadata'), {
      expectedVersion: 0,
      metadata,
    });
    await secondary.step(ApplyProtectionGroupMetadataDocument, key('metadata'), {
      expectedVersion: 0,
      metadata: { ...metadata, projectId: peerProject },
    });
    for (const c of [primary, secondary]) {
      await c.step(EnsureConsistencyGroupDocument, key('consistency-group'), {
        protectionGroupId: id,
        volumeType: input.volumeType,
      });
    }
    await primary.step(EnsureStorageGroupDocument, key('storage-group'), {
      protectionGroupId: id,
      name: storageGroupName,
      replicationType: input.replicationType,
      source: true,
    });
    this.opts.log(
      'INFO',
      `Protection Group '${input.name}' (${id}) created: ${primary.site.name} -> ${secondary.site.name}`,
    );
    return this.changed(ctx, id);
  }

  /**
   * The group as the caller sees it after a change was made: a site's refusal of this read for the
   * caller's rate or its load is waited out, since the change is done and an error would say it was not
   * (a client sending the change again would be told it exists already).
   */
  private changed(ctx: CallerTokens, id: string): Promise<GroupView> {
    return untilTaken(() => this.getGroup(ctx, id), ANSWER_AFTER_CHANGE_MS);
  }

  /** The project on the secondary that maps to `projectId` on the primary (tenant mappings), or the same id. */
  protected async peerProject(
    primary: SiteClient,
    secondary: SiteClient,
    projectId: string,
  ): Promise<string> {
    // The gateway's own lookup (tenant mappings are shown to site admins only).
    const { tenantMappings } = await primary.query(TenantMappingsDocument, {}, SERVICE);
    const m = tenantMappings.find(
      (t) => t.sourceProjectId === projectId && t.targetSite.name === secondary.site.name,
    );
    return m?.targetProjectId ?? projectId;
  }

  protected async volumeTypes(
    c: SiteClient,
    as: CallerCredential,
  ): Promise<{ name: string; replicationEnabled: boolean; replicationType: string | null }[]> {
    return (await c.query(VolumeTypesDocument, {}, as)).volumeTypes;
  }

  /**
   * One metadata change on both sites: checks reachability and sync first, then runs `write` on the
   * primary and the secondary with the version each holds. Nothing is written if a site is down.
   */
  protected async change(
    ctx: CallerTokens,
    idOrName: string,
    what: string,
    write: (
      c: SiteClient,
      expectedVersion: number,
      group: Replica,
      primaryResult: { replica: Replica } | null,
    ) => Promise<{ replica: Replica }>,
    opts: { statuses?: readonly string[] } = {},
  ): Promise<GroupView> {
    const view = await this.getGroup(ctx, idOrName);
    this.authorize(view, what);
    await this.refuseWhileBusy(view.group);
    const { reads, best } = await this.requireBothInSync(view.group, what);
    if (opts.statuses && !opts.statuses.includes(best.status)) {
      throw new ProtectorError(
        'INVALID_STATE',
        `${what} is not allowed while the Protection Group is ${best.status}.`,
        { status: best.status },
      );
    }
    const version = (site: string) => reads.find((r) => r.site === site)!.replica!.metadataVersion;
    const primary = best.currentPrimarySite.name;
    const secondary = best.secondarySite.name;
    // The primary acts first (it checks the rules against its cloud); the secondary records the result.
    const primaryResult = await write(await this.client(primary), version(primary), best, null);
    await write(await this.client(secondary), version(secondary), best, primaryResult);
    return this.changed(ctx, view.id);
  }

  /** Adds one VM: `addMembers` with one server. */
  addMember(
    ctx: CallerTokens,
    input: { protectionGroup: string; server: string; bootPriority?: number | null },
  ): Promise<GroupView> {
    return this.addMembers(ctx, {
      protectionGroup: input.protectionGroup,
      servers: [input.server],
      bootPriority: input.bootPriority,
    });
  }

  /**
   * Adds VMs in one change: every server is found (by id or name, among those the caller sees on the
   * primary) and checked before either site is written; the primary then reads their volumes and
   * checks their types, and the secondary records what the primary found.
   */
  async addMembers(
    ctx: CallerTokens,
    input: { protectionGroup: string; servers: readonly string[]; bootPriority?: number | null },
  ): Promise<GroupView> {
    const bootPriority = input.bootPriority ?? 3;
    if (!Number.isInteger(bootPriority) || bootPriority < 1 || bootPriority > 5) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `bootPriority must be a whole number from 1 (recovered first) to 5, got ${bootPriority}.`,
      );
    }
    if (input.servers.length === 0 || input.servers.length > MAX_MEMBERS_PER_CHANGE) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `servers must name 1 to ${MAX_MEMBERS_PER_CHANGE} servers, got ${input.servers.length}; add more in several calls.`,
      );
    }
    const requestId = randomUUID();
    const view = await this.getGroup(ctx, input.protectionGroup);
    const primary = await this.client(view.group.currentPrimarySite.name);
    const { servers: visible } = await primary.query(
      ServersDocument,
      { filter: {} },
      this.credential(ctx, primary.site),
    );
    const byKey = new Map<string, (typeof visible)[number][]>();
    for (const s of visible) {
      byKey.set(s.id, [...(byKey.get(s.id) ?? []), s]);
      if (s.name !== s.id) byKey.set(s.name, [...(byKey.get(s.name) ?? []), s]);
    }
    const memberOf = new Map(
      view.group.members.flatMap((m) => m.placements.map((p) => [p.serverId, m] as const)),
    );
    const chosen = input.servers.map((wanted) => {
      const found = byKey.get(wanted) ?? [];
      if (!found.length) {
        throw new ProtectorError(
          'NOT_FOUND',
          `Server '${wanted}' does not exist on site '${primary.site.name}' or is not visible to you.`,
        );
      }
      if (found.length > 1) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `Several servers are named '${wanted}'; give the server id.`,
        );
      }
      const server = found[0]!;
      if (memberOf.has(server.id)) {
        throw new ProtectorError(
          'ALREADY_EXISTS',
          `Server '${server.name}' is already a member of '${view.group.name}'.`,
        );
      }
      return server;
    });
    // The same server twice, by the same name or by its id and its name.
    const twice = chosen.find((s, i) => chosen.findIndex((o) => o.id === s.id) !== i);
    if (twice) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `Server '${twice.name}' is listed twice in servers; list each once.`,
      );
    }
    const added = chosen.map((server) => ({ server, memberId: randomUUID() }));
    return this.change(
      ctx,
      view.id,
      added.length === 1 ? 'Adding a member' : 'Adding members',
      async (c, expectedVersion, group, primaryResult) => {
        const members: ProtectionGroupMemberInput[] = added.map(({ server, memberId }) =>
          primaryResult
            ? memberInput(primaryResult.replica.members.find((m) => m.id === memberId)!)
            : {
                id: memberId,
                name: server.name,
                status: 'PROTECTED',
                bootPriority,
                volumes: [],
                placements: [{ site: primary.site.name, serverId: server.id, networkIds: [], volumes: [] }],
              },
        );
        return c.step(
          AddMembersDocument,
          { operationId: requestId, stepKey: `add-members@${c.site.name}` },
          { protectionGroupId: group.id, expectedVersion, members },
        );
      },
      { statuses: ['ACTIVE'] },
    );
  }

  async removeMember(
    ctx: CallerTokens,
    input: { protectionGroup: string; member: string },
  ): Promise<GroupView> {
    const requestId = randomUUID();
    const view = await this.getGroup(ctx, input.protectionGroup);
    const member = view.group.members.find(
      (m) =>
        m.id === input.member ||
        m.name === input.member ||
        m.placements.some((p) => p.serverId === input.member),
    );
    if (!member)
      throw new ProtectorError('NOT_FOUND', `'${view.group.name}' has no member '${input.member}'.`);
    return this.change(
      ctx,
      view.id,
      'Removing a member',
      (c, expectedVersion, group) =>
        c.step(
          RemoveMemberDocument,
          { operationId: requestId, stepKey: `remove-member@${c.site.name}` },
          { protectionGroupId: group.id, expectedVersion, memberId: member.id },
        ),
      { statuses: ['ACTIVE'] },
    );
  }

  async createReplicationPolicy(
    ctx: CallerTokens,
    input: { protectionGroup: string; policy: ReplicationPolicyInput },
  ): Promise<GroupView> {
    const p = input.policy;
    for (const field of ['replicationIntervalSeconds', 'rpoMinutes'] as const) {
      const problem =
        p[field] === undefined || p[field] === null ? null : policyNumberProblem(field, p[field]);
      if (problem) throw new ProtectorError('BAD_USER_INPUT', `${problem}.`);
    }
    for (const field of ['primaryArrayUrl', 'secondaryArrayUrl'] as const) {
      const v = p[field];
      const problem = typeof v === 'string' ? arrayUrlProblem(v) : null;
      if (problem) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `${field} '${v}' ${problem} (FlashArray management is served over TLS), e.g. https://flasharray-a.example.com.`,
        );
      }
    }
    const badPgName = typeof p.purePgName === 'string' ? flashArrayNameProblem(p.purePgName) : null;
    if (badPgName) throw new ProtectorError('INVALID_NAME', `purePgName: ${badPgName}`);
    const view = await this.getGroup(ctx, input.protectionGroup);
    if (typeof p.purePgName === 'string') await this.refuseSharedArrayName(view.id, p.purePgName);
    const requestId = randomUUID();
    return this.change(ctx, view.id, 'Changing the replication policy', (c, expectedVersion, group) =>
      c.step(
        SetReplicationPolicyDocument,
        { operationId: requestId, stepKey: `policy@${c.site.name}` },
        { protectionGroupId: group.id, expectedVersion, policy: p },
      ),
    );
  }

  /**
   * An array group name belongs to one Protection Group: refused when another group (of any tenant,
   * on either site) uses it, without saying whose it is. The gateway's own check, for an authorized
   * caller, so it reads with the service identity.
   */
  protected async refuseSharedArrayName(groupId: string, name: string): Promise<void> {
    const taken = await Promise.all(
      this.sites().map(async (s) => listReplicas(await this.client(s.name), SERVICE).catch(() => [])),
    );
    const other = taken
      .flat()
      .find((r) => r.id !== groupId && (r.storageGroupName === name || r.policy?.purePgName === name));
    if (other) {
      throw new ProtectorError(
        'ALREADY_EXISTS',
        `purePgName '${name}' is the array group of another Protection Group; choose another name.`,
        { purePgName: name },
      );
    }
  }

  async setResourceMappings(
    ctx: CallerTokens,
    input: { protectionGroup: string; mappings: ResourceMappingInput[] },
  ): Promise<GroupView> {
    const view = await this.getGroup(ctx, input.protectionGroup);
    this.checkMappings(view, input.mappings);
    const requestId = randomUUID();
    return this.change(ctx, view.id, 'Changing resource mappings', (c, expectedVersion, group) =>
      c.step(
        SetResourceMappingsDocument,
        { operationId: requestId, stepKey: `mappings@${c.site.name}` },
        { protectionGroupId: group.id, expectedVersion, mappings: input.mappings },
      ),
    );
  }

  async setTenantMappings(
    ctx: CallerTokens,
    mappings: TenantMappingInput[],
  ): Promise<TenantMappingFieldsFragment[]> {
    await this.requireAdmin(ctx, 'Setting tenant mappings');
    const requestId = randomUUID();
    const sites = this.sites();
    for (const m of mappings) {
      for (const f of ['sourceSite', 'targetSite'] as const) {
        if (!sites.some((s) => s.name === m[f]))
          throw new ProtectorError(
            'BAD_USER_INPUT',
            `Tenant mapping ${f} '${m[f]}' is not a registered site.`,
          );
      }
    }
    // The caller is an admin: the gateway checks with its own identity that every site answers.
    const down = await Promise.all(
      sites.map(async (s) =>
        readReplica(await this.client(s.name), '00000000-0000-0000-0000-000000000000', SERVICE),
      ),
    );
    const unreachable = down.find((r) => noAnswer(r.error));
    if (unreachable) throw peerUnreachable(unreachable);
    let out: TenantMappingFieldsFragment[] = [];
    for (const s of sites) {
      const res = await (await this.client(s.name)).step(
        SetTenantMappingsDocument,
        { operationId: requestId, stepKey: `tenants@${s.name}` },
        { mappings },
      );
      out = res.tenantMappings;
    }
    return out;
  }

  async deleteProtectionGroup(
    ctx: CallerTokens,
    input: { protectionGroup: string; force: boolean },
  ): Promise<{ id: string; name: string }> {
    const view = await this.getGroup(ctx, input.protectionGroup);
    this.authorize(view, 'Deleting a Protection Group');
    await this.refuseWhileBusy(view.group);
    const { reads, best } = await this.requireBothInSync(view.group, 'Deleting a Protection Group');
    if (best.members.length && !input.force) {
      throw new ProtectorError(
        'INVALID_STATE',
        `'${best.name}' still has ${best.members.length} member(s); remove them or pass force: true.`,
      );
    }
    const requestId = `delete-${best.id}`;
    const primary = await this.client(best.currentPrimarySite.name);
    const secondary = await this.client(best.secondarySite.name);
    for (const c of [primary, secondary]) {
      await c.step(
        DeleteStorageGroupDocument,
        { operationId: requestId, stepKey: 'storage-group' },
        { protectionGroupId: best.id },
      );
      await c.step(
        DeleteConsistencyGroupDocument,
        { operationId: requestId, stepKey: 'consistency-group' },
        { protectionGroupId: best.id },
      );
    }
    for (const c of [primary, secondary]) {
      const version = reads.find((r) => r.site === c.site.name)!.replica!.metadataVersion;
      await c.step(
        DeleteProtectionGroupReplicaDocument,
        { operationId: requestId, stepKey: 'replica' },
        { protectionGroupId: best.id, expectedVersion: version },
      );
    }
    return { id: best.id, name: best.name };
  }
}
