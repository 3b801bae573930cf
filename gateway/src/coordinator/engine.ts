/**
 * Cross-site operations as durable journals of idempotent steps. The plan of each operation is data
 * (which steps, on which site); each step is a function that calls one site (or writes metadata to
 * both). The journal in the coordinator database is the truth; events are a view of it. A restarted
 * gateway resumes RUNNING operations from the first unfinished step.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  isProtectorError,
  type Json,
  PROTECTION_GROUP_STATUSES,
  type ProtectionGroupStatus,
  ProtectorError,
} from '@protector/schema';
import {
  type OperationEvent,
  type OperationEventBus,
  type OperationEventKind,
  percentComplete,
} from './events.js';
import {
  authoritative,
  type Replica,
  type ReplicaRead,
  readReplica,
  toMetadataInput,
  writeMetadata,
} from './replicas.js';
import type { SiteClient } from './site-client.js';
import {
  type CoordinatorStore,
  type ErrorJson,
  type MemberResult,
  type NewStep,
  type OperationRecord,
  type OperationStatus,
  type OperationType,
  type StepRecord,
  TERMINAL_STATUSES,
} from './store.js';

/** Protection Group statuses (the GraphQL enum). */
export type GroupStatus = ProtectionGroupStatus;

/** Every Protection Group status change the coordinator makes; anything else is refused. */
export const GROUP_TRANSITIONS: Readonly<Record<GroupStatus, readonly GroupStatus[]>> = {
  ACTIVE: ['FAILING_OVER', 'TEST_FAILING_OVER', 'DELETING'],
  FAILING_OVER: ['FAILED_OVER', 'FAILED_OVER_PARTIAL', 'ACTIVE', 'ERROR'],
  FAILED_OVER: ['FAILING_BACK', 'DELETING'],
  FAILED_OVER_PARTIAL: ['FAILING_BACK', 'DELETING'],
  FAILING_BACK: ['ACTIVE', 'FAILED_OVER', 'ERROR'],
  TEST_FAILING_OVER: ['TEST_FAILED_OVER', 'TEST_CLEANING_UP', 'ACTIVE', 'ERROR'],
  TEST_FAILED_OVER: ['TEST_CLEANING_UP'],
  TEST_CLEANING_UP: ['ACTIVE', 'ERROR'],
  DELETING: ['ERROR'],
  ERROR: ['TEST_CLEANING_UP', 'ACTIVE'],
};

/** Statuses an operation may start from (its preconditions on the group). */
export const START_STATUSES: Readonly<Record<OperationType, readonly GroupStatus[]>> = {
  TEST_FAILOVER: ['ACTIVE'],
  TEST_CLEANUP: ['TEST_FAILED_OVER'],
  PLANNED_FAILOVER: ['ACTIVE'],
  UNPLANNED_FAILOVER: ['ACTIVE', 'FAILING_OVER'],
  FAILBACK: ['FAILED_OVER', 'FAILED_OVER_PARTIAL'],
  // A sync levels metadata whatever the status, except while the group is being deleted.
  SYNC: PROTECTION_GROUP_STATUSES.filter((status) => status !== 'DELETING'),
};

/** Statuses a forced test cleanup may start from (a failed or interrupted drill). */
export const FORCED_CLEANUP_STATUSES: readonly GroupStatus[] = [
  'TEST_FAILED_OVER',
  'TEST_FAILING_OVER',
  'TEST_CLEANING_UP',
  'ERROR',
];

/** Operation status changes the engine makes. */
export const OPERATION_TRANSITIONS: Readonly<Record<OperationStatus, readonly OperationStatus[]>> = {
  PENDING: ['RUNNING', 'CANCELLED'],
  RUNNING: ['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLING'],
  FAILED: ['RUNNING', 'CANCELLING'],
  CANCELLING: ['CANCELLED', 'ROLLING_BACK'],
  ROLLING_BACK: ['ROLLED_BACK', 'FAILED'],
  SUCCEEDED: [],
  PARTIAL: [],
  CANCELLED: [],
  ROLLED_BACK: [],
};

export function assertGroupTransition(from: string, to: GroupStatus, what: string): void {
  const allowed = GROUP_TRANSITIONS[from as GroupStatus];
  if (from !== to && !allowed?.includes(to)) {
    throw new ProtectorError(
      'INVALID_STATE',
      `${what} is not allowed while the Protection Group is ${from}; allowed from ${from}: ${allowed?.join(', ') || 'nothing'}.`,
      { status: from },
    );
  }
}

function assertOperationTransition(op: OperationRecord, to: OperationStatus): void {
  if (!OPERATION_TRANSITIONS[op.status].includes(to)) {
    throw new ProtectorError('INVALID_STATE', `Operation ${op.id} is ${op.status}; it cannot become ${to}.`, {
      status: op.status,
    });
  }
}

/** The roles of the two sites in one operation. */
export interface OperationSites {
  /** Where the workload runs before the operation (replication source). */
  readonly source: string;
  /** Where it is recovered. */
  readonly target: string;
}

type Role = 'source' | 'target' | null;
interface PlannedStep {
  readonly key: string;
  readonly name: string;
  readonly role: Role;
}

const status = (s: GroupStatus): PlannedStep => ({ key: `status:${s}`, name: 'setGroupStatus', role: null });

/** The plan of each operation type: pure data. */
export const PLANS: Readonly<
  Record<OperationType, { forward: readonly PlannedStep[]; rollback: readonly PlannedStep[] }>
> = {
  TEST_FAILOVER: {
    forward: [
      status('TEST_FAILING_OVER'),
      { key: 'test-network', name: 'createTestNetwork', role: 'target' },
      { key: 'recover', name: 'materializeRecoveryPoint', role: 'target' },
      status('TEST_FAILED_OVER'),
    ],
    rollback: [{ key: 'rollback-cleanup', name: 'cleanupTestFailover', role: 'target' }, status('ACTIVE')],
  },
  TEST_CLEANUP: {
    forward: [
      status('TEST_CLEANING_UP'),
      { key: 'cleanup', name: 'cleanupTestFailover', role: 'target' },
      status('ACTIVE'),
    ],
    rollback: [],
  },
  PLANNED_FAILOVER: {
    forward: [
      status('FAILING_OVER'),
      { key: 'stop', name: 'stopServers', role: 'source' },
      { key: 'final-sync', name: 'replicateNow', role: 'source' },
      { key: 'recover', name: 'materializeRecoveryPoint', role: 'target' },
      { key: 'swap', name: 'swapRoles', role: null },
    ],
    rollback: [{ key: 'rollback-start', name: 'startServers', role: 'source' }, status('ACTIVE')],
  },
  UNPLANNED_FAILOVER: {
    forward: [
      status('FAILING_OVER'),
      { key: 'fence', name: 'fenceServers', role: 'source' },
      { key: 'recover', name: 'materializeRecoveryPoint', role: 'target' },
      { key: 'swap', name: 'swapRoles', role: null },
    ],
    rollback: [status('ACTIVE')],
  },
  FAILBACK: {
    forward: [
      status('FAILING_BACK'),
      { key: 'reprotect', name: 'reverseReplication', role: 'source' },
      // Reprotecting renames the replicated volumes on the source; the target must know them before it recovers.
      { key: 'sync-after-reprotect', name: 'syncMetadata', role: null },
      { key: 'stop', name: 'stopServers', role: 'source' },
      { key: 'final-sync', name: 'replicateNow', role: 'source' },
      { key: 'recover', name: 'materializeRecoveryPoint', role: 'target' },
      { key: 'swap', name: 'swapRoles', role: null },
      { key: 'protect', name: 'reverseReplication', role: 'target' },
      { key: 'sync-after-protect', name: 'syncMetadata', role: null },
    ],
    rollback: [{ key: 'rollback-start', name: 'startServers', role: 'source' }, status('FAILED_OVER')],
  },
  SYNC: {
    forward: [
      { key: 'fence-stale', name: 'fenceStale', role: null },
      { key: 'sync', name: 'syncMetadata', role: null },
    ],
    rollback: [],
  },
};

/** Steps that may be skipped when their site is unreachable (the operation goes on without it). */
const BEST_EFFORT: Readonly<Partial<Record<OperationType, readonly string[]>>> = {
  UNPLANNED_FAILOVER: ['fenceServers'],
};

export interface EngineDeps {
  readonly store: CoordinatorStore;
  readonly events: OperationEventBus;
  /** The client of a registered site, by name. */
  site(name: string): Promise<SiteClient>;
  readonly log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
  /** This gateway's name in operation leases (default: a fresh {@link newGatewayId}). */
  readonly owner?: string;
  /**
   * How long a gateway's claim on a running operation lasts without renewal: it is renewed every
   * third of it, and another gateway takes over an operation whose lease ran out.
   * @default 30000
   */
  readonly leaseMs?: number;
}

/** Operation statuses in which a gateway is (or should be) running the operation. */
const RESUMABLE: readonly OperationStatus[] = ['PENDING', 'RUNNING', 'CANCELLING', 'ROLLING_BACK'];

/** A name for this gateway process, unique among gateways sharing a database: host, pid, random. */
export function newGatewayId(): string {
  return `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** A run's hold on its operation: `lost` once another gateway took the operation over. */
interface Lease {
  lost: boolean;
}

/** What a step function gets. */
interface StepRun {
  readonly op: OperationRecord;
  readonly step: StepRecord;
  readonly results: ReadonlyMap<string, Json>;
}

/**
 * One gateway runs an operation at a time: it holds a lease in the operation row (`owner`,
 * `lease_until`), taken atomically before running, renewed while running (and checked before each
 * step), released when the run stops. Every gateway sweeps for RUNNING operations whose lease ran
 * out (a gateway died) and resumes them from the first unfinished step.
 */
export class OperationEngine {
  private readonly running = new Map<string, Promise<void>>();
  readonly owner: string;
  private readonly leaseMs: number;
  private sweeper: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly deps: EngineDeps) {
    this.owner = deps.owner ?? newGatewayId();
    this.leaseMs = deps.leaseMs ?? 30_000;
  }

  /** Plans and journals an operation, then runs it in the background. */
  async start(input: {
    type: OperationType;
    group: Replica;
    sites: OperationSites;
    params: Json;
    requestedBy: string | null;
    extraSteps?: readonly NewStep[];
  }): Promise<OperationRecord> {
    const plan = PLANS[input.type];
    const steps: NewStep[] = [
      ...(input.extraSteps ?? []),
      ...plan.forward.map((s) => ({ key: s.key, name: s.name, site: s.role ? input.sites[s.role] : null })),
    ];
    const op = await this.deps.store.createOperation({
      type: input.type,
      protectionGroupId: input.group.id,
      protectionGroupName: input.group.name,
      sourceSite: input.sites.source,
      targetSite: input.sites.target,
      params: input.params,
      requestedBy: input.requestedBy,
      steps,
      lease: { owner: this.owner, ms: this.leaseMs },
    });
    await this.emit(
      op,
      'CREATED',
      `${input.type} of '${input.group.name}' from ${input.sites.source} to ${input.sites.target} created.`,
    );
    this.kick(op.id, 'start');
    return op;
  }

  /**
   * Resumes every operation a previous gateway left RUNNING or CANCELLING; on a shared (PostgreSQL)
   * database, keeps doing so every half lease for operations whose gateway stopped renewing its lease.
   */
  async recover(): Promise<void> {
    await this.sweep('recover');
    if (this.deps.store.shared && !this.sweeper && !this.stopped) {
      this.sweeper = setInterval(
        () =>
          void this.sweep('recover').catch((err) =>
            this.deps.log('WARNING', `looking for abandoned operations failed: ${(err as Error).message}`),
          ),
        Math.max(50, Math.floor(this.leaseMs / 2)),
      );
      this.sweeper.unref();
    }
  }

  private async sweep(reason: 'recover'): Promise<void> {
    const now = Date.now();
    const ops = [
      ...(await this.deps.store.listOperations({ statuses: RESUMABLE })),
      // A cancellation of a failed operation that no gateway settled (its request lost the race
      // for the lease against the run that was just stopping).
      ...(await this.deps.store.listOperations({ statuses: ['FAILED'], cancelRequested: true })),
    ];
    for (const op of ops) {
      const leased =
        this.deps.store.shared &&
        op.owner &&
        op.owner !== this.owner &&
        (op.leaseUntil?.getTime() ?? 0) > now;
      if (!leased && !this.running.has(op.id)) this.kick(op.id, reason);
    }
  }

  /** Stops after the current step; with rollback, undoes what the operation did. */
  async cancel(id: string, rollback: boolean): Promise<OperationRecord> {
    const op = await this.require(id);
    if (TERMINAL_STATUSES.includes(op.status) && op.status !== 'FAILED') {
      throw new ProtectorError(
        'INVALID_STATE',
        `Operation ${id} is ${op.status}; only running or failed operations can be cancelled.`,
        {
          status: op.status,
        },
      );
    }
    const updated = await this.deps.store.updateOperation(id, {
      cancelRequested: true,
      rollbackRequested: rollback,
    });
    // Announced before the run that settles it, so the request precedes the cancellation.
    await this.emit(updated, 'STATUS_CHANGED', `Cancellation requested${rollback ? ' with rollback' : ''}.`);
    // Not running here (failed or pending): settle the cancellation now.
    if (!this.running.has(id)) this.kick(id);
    return updated;
  }

  /** Continues a failed operation from its failing step. */
  async resume(id: string): Promise<OperationRecord> {
    const op = await this.require(id);
    if (op.status !== 'FAILED') {
      throw new ProtectorError(
        'INVALID_STATE',
        `Operation ${id} is ${op.status}; only a FAILED operation can be resumed.`,
        {
          status: op.status,
        },
      );
    }
    const updated = await this.transition(op, 'RUNNING', { error: null, finishedAt: null });
    this.kick(id);
    return updated;
  }

  /** Waits for the background run of an operation (tests and shutdown). */
  async settle(id: string): Promise<void> {
    await this.running.get(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await Promise.allSettled([...this.running.values()]);
  }

  /** Runs the operation in the background unless this gateway runs it already. */
  private kick(id: string, reason: 'start' | 'recover' | 'request' = 'request'): void {
    if (this.running.has(id)) return;
    const run = this.runLeased(id, reason)
      .catch((err) => this.deps.log('ERROR', `operation ${id}: ${(err as Error).stack ?? err}`))
      .finally(() => this.running.delete(id));
    this.running.set(id, run);
  }

  /** Runs the operation while holding its lease; returns at once if another gateway holds it. */
  private async runLeased(id: string, reason: 'start' | 'recover' | 'request'): Promise<void> {
    const before = await this.deps.store.getOperation(id);
    if (!before) return;
    if (!(await this.deps.store.claimOperation(id, this.owner, this.leaseMs))) return;
    if (reason === 'recover') {
      this.deps.log(
        'INFO',
        `resuming operation ${id} (${before.type}, ${before.status}) left by ${
          before.owner && before.owner !== this.owner ? `gateway ${before.owner}` : 'a previous gateway'
        }`,
      );
    }
    const lease: Lease = { lost: false };
    // Renewals one at a time; the last one is awaited before the release, which it must not undo.
    let renewing = Promise.resolve();
    const renew = setInterval(
      () => {
        renewing = renewing.then(() =>
          this.deps.store.claimOperation(id, this.owner, this.leaseMs).then(
            (held) => {
              if (!held) lease.lost = true;
            },
            (err) =>
              this.deps.log('WARNING', `renewing the lease of operation ${id}: ${(err as Error).message}`),
          ),
        );
      },
      Math.max(20, Math.floor(this.leaseMs / 3)),
    );
    renew.unref();
    try {
      await this.run(id, lease);
    } finally {
      clearInterval(renew);
      await renewing;
      await this.deps.store
        .releaseOperation(id, this.owner)
        .catch((err) =>
          this.deps.log('WARNING', `releasing the lease of operation ${id}: ${(err as Error).message}`),
        );
    }
  }

  /** Renews the lease before a step; false (and a warning) when another gateway took the operation. */
  private async holdLease(id: string, lease: Lease): Promise<boolean> {
    if (!lease.lost && (await this.deps.store.claimOperation(id, this.owner, this.leaseMs))) return true;
    lease.lost = true;
    this.deps.log(
      'WARNING',
      `operation ${id}: this gateway's lease ran out and another gateway took the operation over; stopping here.`,
    );
    return false;
  }

  private async require(id: string): Promise<OperationRecord> {
    const op = await this.deps.store.getOperation(id);
    if (!op) throw new ProtectorError('NOT_FOUND', `Operation '${id}' does not exist.`);
    return op;
  }

  private async transition(
    op: OperationRecord,
    to: OperationStatus,
    extra: Parameters<CoordinatorStore['updateOperation']>[1] = {},
  ) {
    assertOperationTransition(op, to);
    const updated = await this.deps.store.updateOperation(op.id, {
      status: to,
      ...(to === 'RUNNING' && !op.startedAt ? { startedAt: new Date() } : {}),
      ...(TERMINAL_STATUSES.includes(to) ? { finishedAt: new Date() } : {}),
      ...extra,
    });
    await this.emit(updated, 'STATUS_CHANGED', `Operation ${to.toLowerCase()}.`);
    return updated;
  }

  private async run(id: string, lease: Lease): Promise<void> {
    let op = await this.require(id);
    if (op.status === 'PENDING') op = await this.transition(op, op.cancelRequested ? 'CANCELLED' : 'RUNNING');
    if (op.status === 'FAILED' && op.cancelRequested) op = await this.transition(op, 'CANCELLING');
    for (;;) {
      if (!(await this.holdLease(id, lease))) return;
      op = await this.require(id);
      if (TERMINAL_STATUSES.includes(op.status)) return;
      if (op.status === 'RUNNING' && op.cancelRequested) {
        op = await this.transition(op, 'CANCELLING');
      }
      if (op.status === 'CANCELLING') {
        if (!op.rollbackRequested) {
          await this.transition(op, 'CANCELLED');
          return;
        }
        op = await this.planRollback(op);
        continue;
      }
      const phase = op.status === 'ROLLING_BACK' ? 'rollback' : 'forward';
      const step = op.steps.find(
        (s) =>
          s.phase === phase && (s.status === 'PENDING' || s.status === 'RUNNING' || s.status === 'FAILED'),
      );
      if (!step) {
        await this.finish(op);
        return;
      }
      const ok = await this.runStep(op, step);
      if (!ok) return;
    }
  }

  private async planRollback(op: OperationRecord): Promise<OperationRecord> {
    const done = new Set(op.steps.filter((s) => s.status === 'SUCCEEDED').map((s) => s.name));
    const plan = PLANS[op.type].rollback.filter(
      // Only undo what happened: restart servers only if they were stopped; clean up only after recovery began.
      (s) =>
        (s.name !== 'startServers' || done.has('stopServers')) &&
        (s.name !== 'cleanupTestFailover' ||
          done.has('createTestNetwork') ||
          done.has('materializeRecoveryPoint')),
    );
    const sites = { source: op.sourceSite!, target: op.targetSite! };
    for (const s of op.steps)
      if (s.status === 'PENDING') await this.deps.store.updateStep(op.id, s.index, { status: 'CANCELLED' });
    await this.deps.store.appendSteps(
      op.id,
      plan.map((s) => ({
        key: s.key,
        name: s.name,
        site: s.role ? sites[s.role] : null,
        phase: 'rollback' as const,
      })),
    );
    return this.transition(await this.require(op.id), 'ROLLING_BACK');
  }

  private async finish(op: OperationRecord): Promise<void> {
    if (op.status === 'ROLLING_BACK') {
      await this.transition(op, 'ROLLED_BACK');
      return;
    }
    const partial = op.members.some((m) => m.status === 'FAILED');
    await this.transition(op, partial ? 'PARTIAL' : 'SUCCEEDED');
  }

  /** Runs one step; returns false when the operation stopped (failed). */
  private async runStep(op: OperationRecord, step: StepRecord): Promise<boolean> {
    const attempt = step.attempt + 1;
    await this.deps.store.updateStep(op.id, step.index, {
      status: 'RUNNING',
      attempt,
      startedAt: new Date(),
      finishedAt: null,
      error: null,
    });
    const running = await this.require(op.id);
    await this.emit(
      running,
      'STEP_STARTED',
      `${step.name}${step.site ? ` on ${step.site}` : ''} started (attempt ${attempt}).`,
      step.index,
    );
    const results = new Map<string, Json>();
    for (const s of running.steps)
      if (s.status === 'SUCCEEDED' && s.result) results.set(s.key, s.result as Json);
    try {
      const result = await this.execute({ op: running, step: { ...step, attempt }, results });
      const skipped = result.skipped === true;
      await this.deps.store.updateStep(op.id, step.index, {
        status: skipped ? 'SKIPPED' : 'SUCCEEDED',
        finishedAt: new Date(),
        result,
      });
      const after = await this.require(op.id);
      await this.emit(
        after,
        'STEP_FINISHED',
        `${step.name}${step.site ? ` on ${step.site}` : ''} ${skipped ? 'skipped' : 'succeeded'}.`,
        step.index,
      );
      return true;
    } catch (err) {
      const error = errorJson(err);
      await this.deps.store.updateStep(op.id, step.index, {
        status: 'FAILED',
        finishedAt: new Date(),
        error,
      });
      const failed = await this.require(op.id);
      await this.emit(
        failed,
        'STEP_FINISHED',
        `${step.name}${step.site ? ` on ${step.site}` : ''} failed: ${error.message}`,
        step.index,
      );
      await this.transition(failed, 'FAILED', {
        error: {
          ...error,
          message: `Step '${step.name}'${step.site ? ` on site ${step.site}` : ''} failed: ${error.message}`,
        },
      });
      return false;
    }
  }

  private async emit(
    op: OperationRecord,
    kind: OperationEventKind,
    message: string,
    stepIndex: number | null = null,
    memberId: string | null = null,
  ) {
    const occurredAt = new Date().toISOString();
    // The status is the journal's when the event is numbered (see `nextSequence`).
    const event = (sequence: number, status: OperationStatus): OperationEvent => {
      const operation = { ...op, sequence, status };
      return {
        operationId: op.id,
        protectionGroupId: op.protectionGroupId,
        sequence,
        kind,
        occurredAt,
        status,
        percentComplete: percentComplete(operation),
        stepIndex,
        memberId,
        message,
        operation,
      };
    };
    // With a fan-out, the event is announced in the transaction that numbers it and comes back to
    // this gateway's subscribers in commit order; without one, it is published once committed.
    let announced = false;
    const { sequence, status } = await this.deps.store.nextSequence(op.id, (n, s) => {
      const payload = this.deps.events.announce(event(n, s));
      announced = payload !== null;
      return payload;
    });
    if (!announced) this.deps.events.publish(event(sequence, status));
  }

  // ---- step functions ----

  private async execute(run: StepRun): Promise<Json> {
    const { op, step } = run;
    const key = { operationId: op.id, stepKey: step.key, attempt: step.attempt };
    const client = step.site ? await this.deps.site(step.site) : null;
    const pgId = op.protectionGroupId;
    const mappings = (op.params.resourceMappings as Json[] | undefined) ?? null;
    try {
      switch (step.name) {
        case 'setGroupStatus':
          return await this.setGroupStatus(op, step.key.slice('status:'.length) as GroupStatus);
        case 'createTestNetwork': {
          const res = await client!.step<{ network: Json }>(
            'createTestNetwork',
            key,
            {
              protectionGroupId: pgId,
              name: `drill-${op.protectionGroupName}-${op.id.slice(0, 8)}`.slice(0, 60),
              cidr: op.params.testNetworkCidr ?? '192.168.250.0/24',
            },
            'network { id name }',
          );
          return { networkId: res.network.id };
        }
        case 'materializeRecoveryPoint': {
          const test = op.type === 'TEST_FAILOVER';
          const finalSync = run.results.get('final-sync') as { recoveryPoint?: { name: string } } | undefined;
          const recoveryPoint =
            finalSync?.recoveryPoint?.name ?? (op.params.recoveryPoint as string | undefined) ?? null;
          const group = await this.readGroup(op, false);
          const res = await client!.step<{ recoveryPoint: Json; members: Json[] }>(
            'materializeRecoveryPoint',
            key,
            {
              protectionGroupId: pgId,
              recoveryPoint,
              resourceMappings: (
                mappings ?? (op.type === 'FAILBACK' ? reverseMappings(group) : groupMappings(group))
              ).map(mappingInput),
              test,
              testNetworkId: test ? (run.results.get('test-network')?.networkId ?? null) : null,
            },
            'recoveryPoint { name createdAt completedAt progress complete } members { memberId memberName status serverId error { code message retryable } }',
          );
          const members: MemberResult[] = res.members.map((m) => ({
            memberId: String(m.memberId),
            memberName: String(m.memberName),
            status: m.status as MemberResult['status'],
            site: step.site,
            serverId: (m.serverId as string | null) ?? null,
            error: (m.error as ErrorJson | null) ?? null,
          }));
          await this.deps.store.updateOperation(op.id, { recoveryPoint: res.recoveryPoint, members });
          for (const m of members)
            await this.emit(
              await this.require(op.id),
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
        }
        case 'cleanupTestFailover': {
          const res = await client!.step<Json>(
            'cleanupTestFailover',
            key,
            { protectionGroupId: pgId },
            'deletedServerIds deletedVolumeIds deletedNetworkIds destroyedStorageVolumes errors { code message retryable }',
          );
          const errors = res.errors as ErrorJson[];
          if (errors.length)
            throw new ProtectorError(
              'CLOUD_ERROR',
              `Cleanup left resources behind: ${errors.map((e) => e.message).join('; ')}`,
            );
          return res;
        }
        case 'stopServers':
        case 'startServers':
        case 'fenceServers': {
          const res = await client!.step<{ servers: Json[] }>(
            step.name,
            key,
            { protectionGroupId: pgId, timeoutSeconds: 300 },
            'servers { serverId name status serverStatus error { code message retryable } }',
          );
          const failed = res.servers.filter((s) => s.status === 'FAILED');
          if (failed.length) {
            throw new ProtectorError(
              'CLOUD_ERROR',
              `${failed.length} server(s) did not ${step.name.replace('Servers', '')}: ${failed.map((s) => `${s.serverId}: ${(s.error as ErrorJson | null)?.message}`).join('; ')}`,
            );
          }
          return { servers: res.servers.length };
        }
        case 'replicateNow': {
          const res = await client!.step<{ recoveryPoint: Json }>(
            'replicateNow',
            key,
            { protectionGroupId: pgId, wait: true, timeoutSeconds: 3600 },
            'recoveryPoint { name createdAt completedAt progress complete }',
          );
          return { recoveryPoint: res.recoveryPoint };
        }
        case 'reverseReplication': {
          const res = await client!.step<Json>(
            'reverseReplication',
            key,
            { protectionGroupId: pgId },
            'name kind source',
          );
          return res;
        }
        case 'swapRoles':
          return await this.swapRoles(op);
        case 'fenceStale':
          return await this.fenceStale(op, key);
        case 'syncMetadata':
          return await this.syncMetadata(op);
        default:
          throw new ProtectorError('INTERNAL', `Unknown step '${step.name}' in operation ${op.id}.`);
      }
    } catch (err) {
      if (BEST_EFFORT[op.type]?.includes(step.name) && isProtectorError(err, 'SITE_UNREACHABLE')) {
        this.deps.log(
          'WARNING',
          `operation ${op.id}: ${step.name} on ${step.site} skipped: ${(err as Error).message}`,
        );
        return { skipped: true, reason: (err as Error).message };
      }
      throw err;
    }
  }

  /** Reads the group from both sites (service identity); the planned ones need both. */
  private async readGroup(op: OperationRecord, requireBoth: boolean): Promise<Replica> {
    const reads = await this.reads(op);
    if (requireBoth) {
      const down = reads.find((r) => r.error);
      if (down) throw peerUnreachable(down);
    }
    const best = authoritative(reads);
    if (!best)
      throw new ProtectorError(
        'NOT_FOUND',
        `Protection Group '${op.protectionGroupName}' is on no reachable site.`,
      );
    return best;
  }

  private async reads(op: OperationRecord): Promise<ReplicaRead[]> {
    const names = [op.sourceSite, op.targetSite].filter((n): n is string => !!n);
    return Promise.all(names.map(async (n) => readReplica(await this.deps.site(n), op.protectionGroupId)));
  }

  /** Writes `changes` to the group on the sites the operation may reach (both, unless unplanned). */
  private async writeGroup(
    op: OperationRecord,
    stepKey: string,
    change: (r: Replica) => Json,
  ): Promise<Replica> {
    const reads = await this.reads(op);
    const tolerant = op.type === 'UNPLANNED_FAILOVER';
    const down = reads.filter((r) => r.error);
    if (down.length && !tolerant) throw peerUnreachable(down[0]!);
    const best = authoritative(reads);
    if (!best)
      throw new ProtectorError(
        'NOT_FOUND',
        `Protection Group '${op.protectionGroupName}' is on no reachable site.`,
      );
    const live = reads.filter((r) => !r.error);
    const newVersion = Math.max(...live.map((r) => r.replica?.metadataVersion ?? 0)) + 1;
    const writes = await Promise.all(
      live.map(async (r) => ({
        client: await this.deps.site(r.site),
        expectedVersion: r.replica?.metadataVersion ?? 0,
        projectId: r.replica?.projectId ?? null,
      })),
    );
    const [written] = await writeMetadata(writes, toMetadataInput(best, change(best)), newVersion, {
      operationId: op.id,
      stepKey: `${stepKey}#${newVersion}`,
    });
    return written!;
  }

  private async setGroupStatus(op: OperationRecord, to: GroupStatus): Promise<Json> {
    const group = await this.readGroup(op, op.type !== 'UNPLANNED_FAILOVER');
    if (group.status === to) return { status: to, unchanged: true };
    assertGroupTransition(group.status, to, `Setting status ${to}`);
    const written = await this.writeGroup(op, `status:${to}`, () => ({ status: to }));
    return { status: written.status, metadataVersion: written.metadataVersion };
  }

  /** The target becomes the primary: roles swap, members carry their new placements. */
  private async swapRoles(op: OperationRecord): Promise<Json> {
    const fresh = await this.require(op.id);
    const partial = fresh.members.some((m) => m.status === 'FAILED');
    const to: GroupStatus =
      op.type === 'FAILBACK' ? 'ACTIVE' : partial ? 'FAILED_OVER_PARTIAL' : 'FAILED_OVER';
    const group = await this.readGroup(op, op.type !== 'UNPLANNED_FAILOVER');
    if (group.currentPrimarySite.name === op.targetSite && group.status === to)
      return { primary: op.targetSite, status: to };
    assertGroupTransition(group.status, to, `Completing ${op.type.toLowerCase()}`);
    const written = await this.writeGroup(op, 'swap', () => ({
      status: to,
      currentPrimarySite: op.targetSite,
      secondarySite: op.sourceSite,
    }));
    return {
      primary: written.currentPrimarySite.name,
      status: written.status,
      metadataVersion: written.metadataVersion,
    };
  }

  /** Before a stale site takes the authoritative metadata, stop any VM it still runs for the group. */
  private async fenceStale(
    op: OperationRecord,
    key: { operationId: string; stepKey: string },
  ): Promise<Json> {
    const reads = await this.reads(op);
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
    const best = authoritative(reads)!;
    const stale = reads.filter((r) => r.replica && r.replica.metadataVersion < best.metadataVersion);
    const fenced: string[] = [];
    for (const s of stale) {
      // The stale copy believes it is primary while the group now runs elsewhere: fence it.
      if (s.replica!.currentPrimarySite.name === s.site && best.currentPrimarySite.name !== s.site) {
        const client = await this.deps.site(s.site);
        await client.step(
          'fenceServers',
          { ...key, stepKey: `${key.stepKey}@${s.site}` },
          { protectionGroupId: op.protectionGroupId },
          'servers { serverId status }',
        );
        fenced.push(s.site);
      }
    }
    return { fenced };
  }

  private async syncMetadata(op: OperationRecord): Promise<Json> {
    const reads = await this.reads(op);
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
    const best = authoritative(reads)!;
    const force = op.params.force === true;
    const stale = reads.filter(
      (r) => force || !r.replica || r.replica.metadataVersion !== best.metadataVersion,
    );
    if (!stale.length) return { synced: [] };
    const newVersion = force ? best.metadataVersion + 1 : best.metadataVersion;
    const writes = await Promise.all(
      stale.map(async (r) => ({
        client: await this.deps.site(r.site),
        expectedVersion: r.replica?.metadataVersion ?? 0,
        projectId: r.replica?.projectId ?? null,
      })),
    );
    await writeMetadata(writes, toMetadataInput(best), newVersion, {
      operationId: op.id,
      stepKey: `${op.steps.find((s) => s.status === 'RUNNING')?.key ?? 'sync'}#${newVersion}`,
    });
    return { synced: writes.map((w) => w.client.site.name), metadataVersion: newVersion };
  }
}

function groupMappings(group: Replica): Json[] {
  return group.resourceMappings;
}

/** Mappings for going back: each mapping with source and target swapped. */
function reverseMappings(group: Replica): Json[] {
  return group.resourceMappings.map((m) => ({
    ...m,
    sourceSite: m.targetSite,
    sourceId: m.targetId,
    targetSite: m.sourceSite,
    targetId: m.sourceId,
  }));
}

const mappingInput = (m: Json): Json => ({
  kind: m.kind,
  sourceSite: typeof m.sourceSite === 'object' ? (m.sourceSite as Json).name : m.sourceSite,
  sourceId: m.sourceId,
  targetSite: typeof m.targetSite === 'object' ? (m.targetSite as Json).name : m.targetSite,
  targetId: m.targetId,
});

export function peerUnreachable(read: ReplicaRead): ProtectorError {
  return new ProtectorError(
    'PEER_SITE_UNREACHABLE',
    `Site '${read.site}' is unreachable (${read.error?.message ?? 'no answer'}); nothing was changed. Changes to a Protection Group are written to both sites, so wait for the site to return (only an unplanned failover runs with one site).`,
    { site: read.site },
  );
}

export function errorJson(err: unknown): ErrorJson {
  if (err instanceof ProtectorError)
    return { code: err.code, message: err.message, retryable: err.retryable };
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err), retryable: false };
}
