/**
 * Runs cross-site operations as durable journals of idempotent steps: journals the plan
 * (`plans.ts`), runs each step (`steps.ts`) under a lease so one gateway runs an operation at a
 * time, records every attempt, and publishes events. The journal in the coordinator database is the
 * truth; events are a view of it. A restarted gateway resumes RUNNING operations from the first
 * unfinished step.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Clock, crashPoint, every, systemClock } from '@protector/platform';
import { type ErrorJson, errorJson, type Json, ProtectorError } from '@protector/schema';
import {
  type OperationEvent,
  type OperationEventBus,
  type OperationEventKind,
  percentComplete,
} from './events.js';
import {
  assertOperationTransition,
  attempted,
  forwardPlan,
  nextBatch,
  type OperationSites,
  PLANS,
  type PlannedStep,
  restingStatus,
} from './plans.js';
import type { Replica } from './replicas.js';
import type { SiteClient } from './site-client.js';
import { runStep, type StepContext } from './steps.js';
import {
  type CoordinatorStore,
  type NewStep,
  type OperationRecord,
  type OperationStatus,
  type OperationType,
  type StepRecord,
  TERMINAL_STATUSES,
} from './store.js';

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
  /** The time of leases, lease renewals, sweeps and journal timestamps (default: the system clock). */
  readonly clock?: Clock;
}

/** Operation statuses in which a gateway is (or should be) running the operation. */
const RESUMABLE: readonly OperationStatus[] = ['PENDING', 'RUNNING', 'CANCELLING', 'ROLLING_BACK'];

/** A name for this gateway process, unique among gateways sharing a database: host, pid, random. */
export function newGatewayId(): string {
  return `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** A step that failed, and how. */
interface StepFailure {
  readonly step: StepRecord;
  readonly error: ErrorJson;
}

/** A run's hold on its operation: `lost` once another gateway took the operation over. */
interface Lease {
  lost: boolean;
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
  private readonly clock: Clock;
  /** Stops the periodic sweep for abandoned operations (shared databases only). */
  private sweeper: AbortController | null = null;
  private stopped = false;

  /** What the steps get: the sites, the journal, events and the log. */
  private readonly stepContext: StepContext;

  constructor(private readonly deps: EngineDeps) {
    this.owner = deps.owner ?? newGatewayId();
    this.leaseMs = deps.leaseMs ?? 30_000;
    this.clock = deps.clock ?? systemClock;
    this.stepContext = {
      site: (name) => deps.site(name),
      store: deps.store,
      emit: (op, kind, message, stepIndex, memberId) => this.emit(op, kind, message, stepIndex, memberId),
      log: deps.log,
    };
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
    const steps: NewStep[] = [
      ...(input.extraSteps ?? []),
      ...forwardPlan(input.type, input.group.replicationType).map((s) => ({
        key: s.key,
        name: s.name,
        site: s.role ? input.sites[s.role] : null,
      })),
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
      this.sweeper = new AbortController();
      every(
        this.clock,
        Math.max(50, Math.floor(this.leaseMs / 2)),
        this.sweeper.signal,
        () =>
          void this.sweep('recover').catch((err) =>
            this.deps.log('WARNING', `looking for abandoned operations failed: ${(err as Error).message}`),
          ),
      );
    }
  }

  private async sweep(reason: 'recover'): Promise<void> {
    const now = this.clock.now();
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
    this.sweeper?.abort();
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
    const renew = new AbortController();
    every(this.clock, Math.max(20, Math.floor(this.leaseMs / 3)), renew.signal, () => {
      renewing = renewing.then(() =>
        this.deps.store.claimOperation(id, this.owner, this.leaseMs).then(
          (held) => {
            if (!held) lease.lost = true;
          },
          (err) =>
            this.deps.log('WARNING', `renewing the lease of operation ${id}: ${(err as Error).message}`),
        ),
      );
    });
    try {
      await this.run(id, lease);
    } finally {
      renew.abort();
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

  /** The clock's time, as a Date for the journal. */
  private now(): Date {
    return new Date(this.clock.now());
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
      ...(to === 'RUNNING' && !op.startedAt ? { startedAt: this.now() } : {}),
      ...(TERMINAL_STATUSES.includes(to) ? { finishedAt: this.now() } : {}),
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
        if (op.rollbackRequested) {
          op = await this.planRollback(op);
          continue;
        }
        // Without rollback: the group is left in the status that says what the work done left behind.
        if (!op.steps.some((s) => s.phase === 'rollback')) op = await this.planSettle(op);
        const settle = op.steps.find(
          (s) =>
            s.phase === 'rollback' &&
            (s.status === 'PENDING' || s.status === 'RUNNING' || s.status === 'FAILED'),
        );
        if (!settle) {
          await this.transition(op, 'CANCELLED');
          return;
        }
        if (!(await this.attemptSteps(op, [settle]))) return;
        continue;
      }
      const batch = nextBatch(op, op.status === 'ROLLING_BACK' ? 'rollback' : 'forward');
      if (!batch.length) {
        await this.finish(op);
        return;
      }
      if (!(await this.attemptSteps(op, batch))) return;
    }
  }

  private async planRollback(op: OperationRecord): Promise<OperationRecord> {
    const plan = PLANS[op.type].rollback.filter(
      // Only undo what happened (a step that failed half-way counts): restart servers only if stopping
      // them began; clean up only once the drill network or the recovery began.
      (s) =>
        (s.name !== 'startServers' || attempted(op, 'stopServers')) &&
        (s.name !== 'promoteStorageGroup' || attempted(op, 'demoteStorageGroup')) &&
        (s.name !== 'cleanupTestFailover' ||
          attempted(op, 'createTestNetwork') ||
          attempted(op, 'materializeRecoveryPoint')),
    );
    await this.appendUndo(op, plan);
    return this.transition(await this.require(op.id), 'ROLLING_BACK');
  }

  /** A cancellation without rollback: one step setting the group's resting status, if it needs one. */
  private async planSettle(op: OperationRecord): Promise<OperationRecord> {
    const to = restingStatus(op);
    await this.appendUndo(op, to ? [{ key: `status:${to}`, name: 'setGroupStatus', role: null }] : []);
    return this.require(op.id);
  }

  /** Cancels the steps not run yet and appends `plan` as the rollback phase. */
  private async appendUndo(op: OperationRecord, plan: readonly PlannedStep[]): Promise<void> {
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
  }

  private async finish(op: OperationRecord): Promise<void> {
    if (op.status === 'ROLLING_BACK') {
      await this.transition(op, 'ROLLED_BACK');
      return;
    }
    const partial = op.members.some((m) => m.status === 'FAILED');
    await this.transition(op, partial ? 'PARTIAL' : 'SUCCEEDED');
  }

  /**
   * Runs steps at once (one, or a batch the plan runs together); returns false when the operation
   * stopped because one failed. The operation fails once all of them settled, naming the first.
   */
  private async attemptSteps(op: OperationRecord, steps: readonly StepRecord[]): Promise<boolean> {
    const settled = await Promise.allSettled(steps.map((step) => this.attemptStep(op, step)));
    const broken = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (broken) throw broken.reason;
    const failure = settled
      .map((s) => (s as PromiseFulfilledResult<StepFailure | null>).value)
      .find((f) => f !== null);
    if (!failure) return true;
    const { step, error } = failure;
    await this.transition(await this.require(op.id), 'FAILED', {
      error: {
        ...error,
        message: `Step '${step.name}'${step.site ? ` on site ${step.site}` : ''} failed: ${error.message}`,
      },
    });
    return false;
  }

  /** Runs one step and journals its outcome; answers how it failed, or null. */
  private async attemptStep(op: OperationRecord, step: StepRecord): Promise<StepFailure | null> {
    const attempt = step.attempt + 1;
    await this.deps.store.updateStep(op.id, step.index, {
      status: 'RUNNING',
      attempt,
      startedAt: this.now(),
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
      crashPoint(`gateway:${step.name}:before`);
      const result = await runStep(this.stepContext, { op: running, step: { ...step, attempt }, results });
      // The step is done but not recorded: the resumed operation runs it again (fault tests cut here).
      crashPoint(`gateway:${step.name}:after`);
      const skipped = result.skipped === true;
      await this.deps.store.updateStep(op.id, step.index, {
        status: skipped ? 'SKIPPED' : 'SUCCEEDED',
        finishedAt: this.now(),
        result,
      });
      const after = await this.require(op.id);
      await this.emit(
        after,
        'STEP_FINISHED',
        `${step.name}${step.site ? ` on ${step.site}` : ''} ${skipped ? 'skipped' : 'succeeded'}.`,
        step.index,
      );
      return null;
    } catch (err) {
      const error = errorJson(err);
      await this.deps.store.updateStep(op.id, step.index, {
        status: 'FAILED',
        finishedAt: this.now(),
        error,
      });
      const failed = await this.require(op.id);
      await this.emit(
        failed,
        'STEP_FINISHED',
        `${step.name}${step.site ? ` on ${step.site}` : ''} failed: ${error.message}`,
        step.index,
      );
      return { step, error };
    }
  }

  private async emit(
    op: OperationRecord,
    kind: OperationEventKind,
    message: string,
    stepIndex: number | null = null,
    memberId: string | null = null,
  ) {
    const occurredAt = this.now().toISOString();
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
}
