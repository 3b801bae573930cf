/**
 * What each operation does, as data: the plan of steps per operation type (on which site's role),
 * the Protection Group and operation status transitions, and which steps may be skipped. No I/O:
 * the engine (`engine.ts`) runs the plans; the steps (`steps.ts`) do the work.
 */
import {
  type OperationStatus,
  type OperationType,
  PROTECTION_GROUP_STATUSES,
  type ProtectionGroupStatus,
  ProtectorError,
} from '@protector/schema';
import type { StepName } from './steps.js';
import type { OperationRecord, StepRecord } from './store.js';

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
  ERROR: ['TEST_CLEANING_UP', 'ACTIVE', 'FAILING_OVER'],
};

/** Statuses an operation may start from (its preconditions on the group). */
export const START_STATUSES: Readonly<Record<OperationType, readonly GroupStatus[]>> = {
  TEST_FAILOVER: ['ACTIVE'],
  TEST_CLEANUP: ['TEST_FAILED_OVER'],
  PLANNED_FAILOVER: ['ACTIVE'],
  // From ERROR too: it finishes a failover or failback that was cancelled after recovery began.
  UNPLANNED_FAILOVER: ['ACTIVE', 'FAILING_OVER', 'ERROR'],
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
  CANCELLING: ['CANCELLED', 'ROLLING_BACK', 'FAILED'],
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

export function assertOperationTransition(op: OperationRecord, to: OperationStatus): void {
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
export interface PlannedStep {
  readonly key: string;
  /** A step the engine can run: a plan naming any other step does not compile. */
  readonly name: StepName;
  readonly role: Role;
  /**
   * Runs at the same time as the step before it (neither needs the other's result). The engine runs
   * such a batch together and goes on when all of it succeeded; each step is journaled on its own, so
   * a resumed operation runs again only what did not finish.
   */
  readonly withPrevious?: true;
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
      { key: 'demote', name: 'demoteStorageGroup', role: 'source' },
      { key: 'final-sync', name: 'replicateNow', role: 'source' },
      { key: 'recover', name: 'materializeRecoveryPoint', role: 'target' },
      { key: 'swap', name: 'swapRoles', role: null },
    ],
    rollback: [
      { key: 'rollback-promote', name: 'promoteStorageGroup', role: 'source' },
      { key: 'rollback-start', name: 'startServers', role: 'source' },
      status('ACTIVE'),
    ],
  },
  UNPLANNED_FAILOVER: {
    forward: [
      status('FAILING_OVER'),
      { key: 'fence', name: 'fenceServers', role: 'source' },
      { key: 'demote', name: 'demoteStorageGroup', role: 'source' },
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
      // Stopping reads only the source's own records, which the sync does not write.
      { key: 'stop', name: 'stopServers', role: 'source', withPrevious: true },
      { key: 'demote', name: 'demoteStorageGroup', role: 'source' },
      { key: 'final-sync', name: 'replicateNow', role: 'source' },
      { key: 'recover', name: 'materializeRecoveryPoint', role: 'target' },
      { key: 'swap', name: 'swapRoles', role: null },
      { key: 'protect', name: 'reverseReplication', role: 'target' },
      { key: 'sync-after-protect', name: 'syncMetadata', role: null },
    ],
    rollback: [
      { key: 'rollback-promote', name: 'promoteStorageGroup', role: 'source' },
      { key: 'rollback-start', name: 'startServers', role: 'source' },
      status('FAILED_OVER'),
    ],
  },
  SYNC: {
    forward: [
      { key: 'fence-stale', name: 'fenceStale', role: null },
      { key: 'sync', name: 'syncMetadata', role: null },
    ],
    rollback: [],
  },
};

/**
 * The steps of `op` to run now: the first unfinished step of `phase` (pending, running or failed) and
 * the unfinished steps its plan runs with it (`withPrevious`). Empty when the phase is done.
 */
export function nextBatch(op: OperationRecord, phase: 'forward' | 'rollback'): StepRecord[] {
  const steps = op.steps.filter((s) => s.phase === phase);
  const unfinished = (s: StepRecord) =>
    s.status === 'PENDING' || s.status === 'RUNNING' || s.status === 'FAILED';
  const first = steps.findIndex(unfinished);
  if (first < 0) return [];
  const plan = phase === 'forward' ? PLANS[op.type].forward : PLANS[op.type].rollback;
  const together = (s: StepRecord) => plan.find((p) => p.key === s.key)?.withPrevious === true;
  // Back to the batch's head (an earlier step of the batch may have finished), then on to its end.
  let head = first;
  while (head > 0 && together(steps[head]!)) head--;
  let end = head + 1;
  while (end < steps.length && together(steps[end]!)) end++;
  return steps.slice(head, end).filter(unfinished);
}

/** Whether the operation ran (or began) a step named `name`. */
export const attempted = (op: OperationRecord, name: StepName): boolean =>
  op.steps.some((s) => s.name === name && s.phase === 'forward' && s.attempt > 0);

/**
 * Where the group rests when its operation is cancelled without rollback: the status that says what
 * the work done left behind, and from which an operation can go on (null: leave it as it is, when
 * nothing succeeded or the roles already swapped).
 * - a drill that created anything is TEST_FAILED_OVER, so its cleanup runs; else ACTIVE;
 * - a failover or failback that began recovering is ERROR (an unplanned failover finishes it);
 *   before that, nothing moved: ACTIVE (failover) or FAILED_OVER (failback);
 * - an interrupted cleanup is ERROR (a forced cleanup finishes it).
 */
export function restingStatus(op: OperationRecord): GroupStatus | null {
  // Nothing done (not even the first status change): the group is where it was.
  if (!op.steps.some((s) => s.phase === 'forward' && s.status === 'SUCCEEDED')) return null;
  if (attempted(op, 'swapRoles')) return null;
  const recovering = attempted(op, 'materializeRecoveryPoint');
  switch (op.type) {
    case 'TEST_FAILOVER':
      return recovering || attempted(op, 'createTestNetwork') ? 'TEST_FAILED_OVER' : 'ACTIVE';
    case 'TEST_CLEANUP':
      return 'ERROR';
    case 'PLANNED_FAILOVER':
    case 'UNPLANNED_FAILOVER':
      return recovering ? 'ERROR' : 'ACTIVE';
    case 'FAILBACK':
      return recovering ? 'ERROR' : 'FAILED_OVER';
    case 'SYNC':
      return null;
    default: {
      const unreachable: never = op.type;
      return unreachable;
    }
  }
}

/** Steps on a pod's promotion state: only a sync group's plans hold them. */
const POD_STEPS: readonly StepName[] = ['promoteStorageGroup', 'demoteStorageGroup'];

/** The forward steps of an operation on a group replicated `replicationType` (`ASYNC`, `SYNC`). */
export function forwardPlan(type: OperationType, replicationType: string): readonly PlannedStep[] {
  return PLANS[type].forward.filter((s) => replicationType === 'SYNC' || !POD_STEPS.includes(s.name));
}

/** Steps that may be skipped when their site is unreachable (the operation goes on without it). */
export const BEST_EFFORT: Readonly<Partial<Record<OperationType, readonly StepName[]>>> = {
  UNPLANNED_FAILOVER: ['fenceServers', 'demoteStorageGroup'],
};
