/**
 * The steps of cross-site operations: one idempotent function per step name, each calling one site
 * (with the step's key, so a repeat is answered from the site's record) or writing metadata to both.
 * The plans (`plans.ts`) say which run when; the engine (`engine.ts`) journals and runs them.
 */
import { isProtectorError, type Json, ProtectorError } from '@protector/schema';
import type { OperationEventKind } from './events.js';
import {
  CleanupTestFailoverDocument,
  CreateTestNetworkDocument,
  DemoteStorageGroupDocument,
  FenceServersDocument,
  MaterializeRecoveryPointDocument,
  PromoteStorageGroupDocument,
  type ProtectionGroupMemberInput,
  type ProtectionGroupMetadataInput,
  ReplicateNowDocument,
  type ResourceMappingInput,
  ReverseReplicationDocument,
  StartServersDocument,
  StopServersDocument,
} from './generated/site-documents.js';
import { assertGroupTransition, BEST_EFFORT, type GroupStatus } from './plans.js';
import {
  authoritative,
  mappingInput,
  peerUnreachable,
  type Replica,
  type ReplicaHead,
  type ReplicaRead,
  readReplica,
  toMetadataInput,
  writeMetadata,
} from './replicas.js';
import { SERVICE, type SiteClient } from './site-client.js';
import type { CoordinatorStore, MemberResult, OperationRecord, StepRecord } from './store.js';

/** What a step function gets from the engine. */
export interface StepContext {
  /** The client of a registered site, by name (service identity: steps are the gateway's own work). */
  readonly site: (name: string) => Promise<SiteClient>;
  readonly store: CoordinatorStore;
  /** Publishes an operation event (the recovery step reports each member). */
  readonly emit: (
    op: OperationRecord,
    kind: OperationEventKind,
    message: string,
    stepIndex: number | null,
    memberId: string | null,
  ) => Promise<void>;
  readonly log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
}

/** One run of one step: the operation, the step (with its attempt) and the results of finished steps by key. */
export interface StepRun {
  readonly op: OperationRecord;
  readonly step: StepRecord;
  readonly results: ReadonlyMap<string, Json>;
}

type StepFn = (ctx: StepContext, run: StepRun) => Promise<Json>;

/** The key a site records a step under: a repeat of the same attempt is answered from its record. */
const keyOf = ({ op, step }: StepRun) => ({ operationId: op.id, stepKey: step.key, attempt: step.attempt });

/** The site the step runs on. */
async function siteOf(ctx: StepContext, { op, step }: StepRun): Promise<SiteClient> {
  if (!step.site)
    throw new ProtectorError('INTERNAL', `Step '${step.name}' of operation ${op.id} names no site.`);
  return ctx.site(step.site);
}

const SERVER_STEPS = {
  stopServers: StopServersDocument,
  startServers: StartServersDocument,
  fenceServers: FenceServersDocument,
} as const;

/** start/stop/fence the group's servers on the step's site; fails naming every server that did not. */
const serverStep =
  (name: keyof typeof SERVER_STEPS): StepFn =>
  async (ctx, run) => {
    const res = await (await siteOf(ctx, run)).step(SERVER_STEPS[name], keyOf(run), {
      protectionGroupId: run.op.protectionGroupId,
      timeoutSeconds: 300,
    });
    const failed = res.servers.filter((s) => s.status === 'FAILED');
    if (failed.length) {
      throw new ProtectorError(
        'CLOUD_ERROR',
        `${failed.length} server(s) did not ${name.replace('Servers', '')}: ${failed.map((s) => `${s.serverId}: ${s.error?.message}`).join('; ')}`,
      );
    }
    return { servers: res.servers.length };
  };

const STORAGE_GROUP_STEPS = {
  reverseReplication: ReverseReplicationDocument,
  promoteStorageGroup: PromoteStorageGroupDocument,
  demoteStorageGroup: DemoteStorageGroupDocument,
} as const;

/** A step on the group's array group on the step's site; answers the group as the site reports it. */
const storageGroupStep =
  (name: keyof typeof STORAGE_GROUP_STEPS): StepFn =>
  async (ctx, run) => {
    const { step: _receipt, ...group } = await (await siteOf(ctx, run)).step(
      STORAGE_GROUP_STEPS[name],
      keyOf(run),
      { protectionGroupId: run.op.protectionGroupId },
    );
    return group;
  };

const STEPS = {
  setGroupStatus: (ctx, { op, step }) =>
    setGroupStatus(ctx, op, step.key.slice('status:'.length) as GroupStatus),

  async createTestNetwork(ctx, run) {
    const { op } = run;
    const res = await (await siteOf(ctx, run)).step(CreateTestNetworkDocument, keyOf(run), {
      protectionGroupId: op.protectionGroupId,
      name: `drill-${op.protectionGroupName}-${op.id.slice(0, 8)}`.slice(0, 60),
      cidr: (op.params.testNetworkCidr as string | undefined) ?? '192.168.250.0/24',
    });
    return { networkId: res.network.id };
  },

  async materializeRecoveryPoint(ctx, run) {
    const { op, step } = run;
    const test = op.type === 'TEST_FAILOVER';
    const finalSync = run.results.get('final-sync') as { recoveryPoint?: { name: string } } | undefined;
    const recoveryPoint =
      finalSync?.recoveryPoint?.name ?? (op.params.recoveryPoint as string | undefined) ?? null;
    const mappings = (op.params.resourceMappings as ResourceMappingInput[] | undefined) ?? null;
    const { group } = await readGroup(ctx, op, false);
    const res = await (await siteOf(ctx, run)).step(MaterializeRecoveryPointDocument, keyOf(run), {
      protectionGroupId: op.protectionGroupId,
      recoveryPoint,
      resourceMappings:
        mappings ??
        (op.type === 'FAILBACK' ? reverseMappings(group) : group.resourceMappings.map(mappingInput)),
      test,
      testNetworkId: test
        ? ((run.results.get('test-network')?.networkId as string | undefined) ?? null)
        : null,
    });
    const members: MemberResult[] = res.members.map((m) => ({
      memberId: m.memberId,
      memberName: m.memberName,
      status: m.status,
      site: step.site,
      serverId: m.serverId ?? null,
      error: m.error ?? null,
    }));
    const updated = await ctx.store.updateOperation(op.id, { recoveryPoint: res.recoveryPoint, members });
    for (const m of members)
      await ctx.emit(
        updated,
        'MEMBER_UPDATED',
        `${m.memberName}: ${m.status.toLowerCase()}`,
        step.index,
        m.memberId,
      );
    if (members.length && members.every((m) => m.status === 'FAILED')) {
      throw new ProtectorError(
        'CLOUD_ERROR',
        `No member could be recovered on ${step.site}: ${members[0]!.error?.message ?? 'unknown error'}`,
      );
    }
    return { recoveryPoint: res.recoveryPoint, members: members.length };
  },

  async cleanupTestFailover(ctx, run) {
    const { op } = run;
    // The drill being cleaned up (this one, when a drill rolls back): its copies are named after it.
    const drill =
      op.type === 'TEST_FAILOVER'
        ? op
        : (
            await ctx.store.listOperations({
              protectionGroupId: op.protectionGroupId,
              types: ['TEST_FAILOVER'],
            })
          )
            .filter((o) => o.createdAt <= op.createdAt)
            .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
    const res = await (await siteOf(ctx, run)).step(CleanupTestFailoverDocument, keyOf(run), {
      protectionGroupId: op.protectionGroupId,
      testOperationId: drill?.id ?? null,
    });
    const errors = res.errors;
    if (errors.length)
      throw new ProtectorError(
        'CLOUD_ERROR',
        `Cleanup left resources behind: ${errors.map((e) => e.message).join('; ')}`,
      );
    return res;
  },

  stopServers: serverStep('stopServers'),
  startServers: serverStep('startServers'),
  fenceServers: serverStep('fenceServers'),

  async replicateNow(ctx, run) {
    const res = await (await siteOf(ctx, run)).step(ReplicateNowDocument, keyOf(run), {
      protectionGroupId: run.op.protectionGroupId,
      wait: true,
      timeoutSeconds: 3600,
    });
    return { recoveryPoint: res.recoveryPoint };
  },

  reverseReplication: storageGroupStep('reverseReplication'),
  // A sync group's pod: demoted on the source once its VMs stopped (the array refuses their writes),
  // promoted again by a rollback; nothing for an async group.
  promoteStorageGroup: storageGroupStep('promoteStorageGroup'),
  demoteStorageGroup: storageGroupStep('demoteStorageGroup'),

  swapRoles: (ctx, { op }) => swapRoles(ctx, op),
  fenceStale: (ctx, run) => fenceStale(ctx, run.op, keyOf(run)),
  syncMetadata: (ctx, { op, step }) => syncMetadata(ctx, op, step.key),
} satisfies Record<string, StepFn>;

/** The name of a step the engine can run. */
export type StepName = keyof typeof STEPS;

export const isStepName = (name: string): name is StepName => Object.hasOwn(STEPS, name);

/**
 * Runs one step. A step the operation may go without (`BEST_EFFORT`) whose site is unreachable is
 * skipped with a warning; any other failure propagates to the engine, which records it.
 */
export async function runStep(ctx: StepContext, run: StepRun): Promise<Json> {
  const { op, step } = run;
  // The journal may hold a step of another version of the product; plans only name known steps.
  if (!isStepName(step.name))
    throw new ProtectorError('INTERNAL', `Unknown step '${step.name}' in operation ${op.id}.`);
  try {
    return await STEPS[step.name](ctx, run);
  } catch (err) {
    // A best-effort step goes without its site, or (fencing a pod) without that site's array.
    if (
      BEST_EFFORT[op.type]?.includes(step.name) &&
      (isProtectorError(err, 'SITE_UNREACHABLE') || isProtectorError(err, 'STORAGE_UNREACHABLE'))
    ) {
      ctx.log(
        'WARNING',
        `operation ${op.id}: ${step.name} on ${step.site} skipped: ${(err as Error).message}`,
      );
      return { skipped: true, reason: (err as Error).message };
    }
    throw err;
  }
}

/**
 * Reads the group from both sites (service identity); the planned ones need both. Returns the winning
 * copy and the reads, which a write that follows uses for its compare-and-set.
 */
async function readGroup(
  ctx: StepContext,
  op: OperationRecord,
  requireBoth: boolean,
): Promise<{ group: Replica; reads: ReplicaRead[] }> {
  const reads = await readBoth(ctx, op);
  if (requireBoth) {
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
  }
  const group = authoritative(reads);
  if (!group)
    throw new ProtectorError(
      'NOT_FOUND',
      `Protection Group '${op.protectionGroupName}' is on no reachable site.`,
    );
  return { group, reads };
}

async function readBoth(ctx: StepContext, op: OperationRecord): Promise<ReplicaRead[]> {
  const names = [op.sourceSite, op.targetSite].filter((n): n is string => !!n);
  return Promise.all(names.map(async (n) => readReplica(await ctx.site(n), op.protectionGroupId, SERVICE)));
}

/** The sites' clients with the version each expects, for a compare-and-set metadata write. */
const writesTo = (ctx: StepContext, reads: readonly ReplicaRead[]) =>
  Promise.all(
    reads.map(async (r) => ({
      client: await ctx.site(r.site),
      expectedVersion: r.replica?.metadataVersion ?? 0,
      projectId: r.replica?.projectId ?? null,
    })),
  );

/**
 * Writes `change` to the group on the sites the operation may reach (both, unless unplanned), over
 * the versions `readGroup` just read: a site written in between refuses the write (compare-and-set).
 */
async function writeGroup(
  ctx: StepContext,
  op: OperationRecord,
  stepKey: string,
  { group, reads }: { group: Replica; reads: readonly ReplicaRead[] },
  change: Partial<ProtectionGroupMetadataInput>,
): Promise<ReplicaHead> {
  const live = reads.filter((r) => !r.error);
  const newVersion = Math.max(...live.map((r) => r.replica?.metadataVersion ?? 0)) + 1;
  const whole = toMetadataInput(group, change);
  const metadata = withMemberStatuses(whole);
  // Every reachable site holds the version read: what the write does not change, each keeps (a
  // status change of a group of 500 members writes its head, not 500 members twice). A site behind
  // gets the whole metadata.
  const current = live.every((r) => r.replica?.metadataVersion === group.metadataVersion);
  const [written] = await writeMetadata(
    await writesTo(ctx, live),
    {
      ...metadata,
      ...(current && change.members === undefined && metadata.members === whole.members
        ? { members: null }
        : {}),
      ...(current && change.resourceMappings === undefined ? { resourceMappings: null } : {}),
    },
    newVersion,
    {
      operationId: op.id,
      stepKey: `${stepKey}#${newVersion}`,
    },
  );
  return written!;
}

/**
 * Members say where their workload is: a group back to ACTIVE (failback done, or a failover rolled
 * back) has its members PROTECTED again, whatever the recovery left them as. Unchanged: the same object.
 */
function withMemberStatuses(metadata: ProtectionGroupMetadataInput): ProtectionGroupMetadataInput {
  const moved = (m: ProtectionGroupMemberInput) =>
    m.status === 'FAILED_OVER' || m.status === 'FAILOVER_FAILED';
  if (metadata.status !== 'ACTIVE' || !metadata.members?.some(moved)) return metadata;
  return {
    ...metadata,
    members: metadata.members.map((m) => (moved(m) ? { ...m, status: 'PROTECTED' } : m)),
  };
}

async function setGroupStatus(ctx: StepContext, op: OperationRecord, to: GroupStatus): Promise<Json> {
  const read = await readGroup(ctx, op, op.type !== 'UNPLANNED_FAILOVER');
  if (read.group.status === to) return { status: to, unchanged: true };
  assertGroupTransition(read.group.status, to, `Setting status ${to}`);
  const written = await writeGroup(ctx, op, `status:${to}`, read, { status: to });
  return { status: written.status, metadataVersion: written.metadataVersion };
}

/** The target becomes the primary: roles swap, members carry their new placements. */
async function swapRoles(ctx: StepContext, op: OperationRecord): Promise<Json> {
  const fresh = await ctx.store.getOperation(op.id);
  const partial = (fresh ?? op).members.some((m) => m.status === 'FAILED');
  const to: GroupStatus = op.type === 'FAILBACK' ? 'ACTIVE' : partial ? 'FAILED_OVER_PARTIAL' : 'FAILED_OVER';
  const read = await readGroup(ctx, op, op.type !== 'UNPLANNED_FAILOVER');
  const { group } = read;
  if (group.currentPrimarySite.name === op.targetSite && group.status === to)
    return { primary: op.targetSite, status: to };
  assertGroupTransition(group.status, to, `Completing ${op.type.toLowerCase()}`);
  const written = await writeGroup(ctx, op, 'swap', read, {
    status: to,
    currentPrimarySite: op.targetSite ?? group.currentPrimarySite.name,
    secondarySite: op.sourceSite ?? group.secondarySite.name,
  });
  return {
    primary: written.currentPrimarySite.name,
    status: written.status,
    metadataVersion: written.metadataVersion,
  };
}

/** Before a stale site takes the authoritative metadata, stop any VM it still runs for the group. */
async function fenceStale(
  ctx: StepContext,
  op: OperationRecord,
  key: { operationId: string; stepKey: string },
): Promise<Json> {
  const reads = await readBoth(ctx, op);
  const down = reads.find((r) => r.error);
  if (down) throw peerUnreachable(down);
  const best = authoritative(reads)!;
  const stale = reads.filter((r) => r.replica && r.replica.metadataVersion < best.metadataVersion);
  const fenced: string[] = [];
  for (const s of stale) {
    // The stale copy believes it is primary while the group now runs elsewhere: fence it.
    if (s.replica!.currentPrimarySite.name === s.site && best.currentPrimarySite.name !== s.site) {
      const client = await ctx.site(s.site);
      await client.step(
        FenceServersDocument,
        { ...key, stepKey: `${key.stepKey}@${s.site}` },
        { protectionGroupId: op.protectionGroupId },
      );
      fenced.push(s.site);
    }
  }
  return { fenced };
}

async function syncMetadata(ctx: StepContext, op: OperationRecord, stepKey: string): Promise<Json> {
  const reads = await readBoth(ctx, op);
  const down = reads.find((r) => r.error);
  if (down) throw peerUnreachable(down);
  const best = authoritative(reads)!;
  const force = op.params.force === true;
  const stale = reads.filter(
    (r) => force || !r.replica || r.replica.metadataVersion !== best.metadataVersion,
  );
  if (!stale.length) return { synced: [] };
  const newVersion = force ? best.metadataVersion + 1 : best.metadataVersion;
  const writes = await writesTo(ctx, stale);
  await writeMetadata(writes, toMetadataInput(best), newVersion, {
    operationId: op.id,
    stepKey: `${stepKey}#${newVersion}`,
  });
  return { synced: writes.map((w) => w.client.site.name), metadataVersion: newVersion };
}

/** Mappings for going back: each mapping with source and target swapped. */
function reverseMappings(group: Replica): ResourceMappingInput[] {
  return group.resourceMappings.map(mappingInput).map((m) => ({
    ...m,
    sourceSite: m.targetSite,
    sourceId: m.targetId,
    targetSite: m.sourceSite,
    targetId: m.sourceId,
  }));
}
