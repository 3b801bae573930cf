/**
 * The operation journal: operations and their steps, created, read and updated. One active
 * operation per Protection Group, enforced by the unique index on `active_group`.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '@protector/platform';
import { runInTransaction, runRead } from '@protector/platform/db';
import { type ErrorJson, ProtectorError } from '@protector/schema';
import type { DataSource } from 'typeorm';
import {
  type MemberResult,
  type NewStep,
  type OperationRecord,
  type OperationStatus,
  type OperationType,
  type StepStatus,
  TERMINAL_STATUSES,
} from './store-records.js';
import type { OperationRow, StepRow } from './store-tables.js';

/** An operation to journal, with its plan. */
export interface NewOperation {
  type: OperationType;
  protectionGroupId: string;
  protectionGroupName: string;
  sourceSite: string | null;
  targetSite: string | null;
  params: Record<string, unknown>;
  requestedBy: string | null;
  steps: readonly NewStep[];
  /** The gateway that will run it: it holds the lease from the start (see `claimOperation`). */
  lease?: { owner: string; ms: number };
}

/** Which operations `listOperations` returns (all of them without a filter). */
export interface OperationFilter {
  protectionGroupId?: string;
  types?: readonly string[];
  statuses?: readonly string[];
  since?: Date;
  active?: boolean;
  cancelRequested?: boolean;
}

/** The fields of an operation that `updateOperation` changes. */
export type OperationPatch = Partial<{
  status: OperationStatus;
  recoveryPoint: Record<string, unknown> | null;
  members: readonly MemberResult[];
  error: ErrorJson | null;
  cancelRequested: boolean;
  rollbackRequested: boolean;
  startedAt: Date;
  finishedAt: Date | null;
  sourceSite: string | null;
  targetSite: string | null;
}>;

/** The fields of a step that `updateStep` changes. */
export type StepPatch = Partial<{
  status: StepStatus;
  attempt: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: ErrorJson | null;
  result: unknown;
}>;

/** A unique index refused the write (PostgreSQL's code, or SQLite's message). */
const isUniqueViolation = (err: unknown): boolean => {
  const e = err as { code?: unknown; driverError?: { code?: unknown }; message?: unknown };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || /unique|duplicate/i.test(String(e?.message ?? ''));
};

const json = <T>(text: string | null): T | null => (text ? (JSON.parse(text) as T) : null);
const date = (text: string | null): Date | null => (text ? new Date(text) : null);

export class OperationJournal {
  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
  ) {}

  /** Creates an operation and its steps; refuses with OPERATION_IN_PROGRESS while another acts on the group. */
  async createOperation(input: NewOperation): Promise<OperationRecord> {
    const id = randomUUID();
    const busy = (active: OperationRow) =>
      new ProtectorError(
        'OPERATION_IN_PROGRESS',
        `Operation ${active.id} (${active.type}, ${active.status}) is acting on Protection Group '${input.protectionGroupName}'; wait for it, or cancel it with cancelOperation.`,
        { operation: active.id },
      );
    await runInTransaction(this.ds, async (m) => {
      const ops = m.getRepository<OperationRow>('operation');
      const active = await ops.findOneBy({ activeGroup: input.protectionGroupId });
      if (active) throw busy(active);
      const now = this.clock.now();
      await ops.insert({
        id,
        type: input.type,
        status: 'PENDING',
        protectionGroupId: input.protectionGroupId,
        protectionGroupName: input.protectionGroupName,
        activeGroup: input.protectionGroupId,
        sourceSite: input.sourceSite,
        targetSite: input.targetSite,
        params: JSON.stringify(input.params),
        recoveryPoint: null,
        members: '[]',
        error: null,
        requestedBy: input.requestedBy,
        cancelRequested: 0,
        rollbackRequested: 0,
        sequence: 0,
        createdAt: new Date(now).toISOString(),
        startedAt: null,
        finishedAt: null,
        owner: input.lease?.owner ?? null,
        leaseUntil: input.lease ? new Date(now + input.lease.ms).toISOString() : null,
      });
      await this.insertSteps(m.getRepository<StepRow>('operation_step'), id, 0, input.steps);
    }).catch(async (err) => {
      // Another gateway inserted an operation on the group between our check and our insert: the
      // unique index on active_group decided (PostgreSQL waits for that transaction, then refuses).
      if (!isUniqueViolation(err)) throw err;
      const active = await runRead(this.ds, (m) =>
        m.getRepository<OperationRow>('operation').findOneBy({ activeGroup: input.protectionGroupId }),
      );
      throw active
        ? busy(active)
        : new ProtectorError(
            'OPERATION_IN_PROGRESS',
            `Another operation is already acting on Protection Group '${input.protectionGroupName}'.`,
          );
    });
    return (await this.getOperation(id))!;
  }

  private async insertSteps(
    repo: { insert(rows: StepRow[]): Promise<unknown> },
    id: string,
    from: number,
    steps: readonly NewStep[],
  ) {
    if (!steps.length) return;
    await repo.insert(
      steps.map((s, i) => ({
        operationId: id,
        idx: from + i,
        key: s.key,
        name: s.name,
        site: s.site,
        phase: s.phase ?? 'forward',
        status: 'PENDING',
        attempt: 0,
        startedAt: null,
        finishedAt: null,
        error: null,
        result: null,
      })),
    );
  }

  /** Appends steps (a rollback plan) after the existing ones. */
  async appendSteps(id: string, steps: readonly NewStep[]): Promise<void> {
    await runInTransaction(this.ds, async (m) => {
      const repo = m.getRepository<StepRow>('operation_step');
      const count = await repo.countBy({ operationId: id });
      await this.insertSteps(repo, id, count, steps);
    });
  }

  async getOperation(id: string): Promise<OperationRecord | null> {
    return runRead(this.ds, async (m) => {
      const row = await m.getRepository<OperationRow>('operation').findOneBy({ id });
      if (!row) return null;
      const steps = await m
        .getRepository<StepRow>('operation_step')
        .find({ where: { operationId: id }, order: { idx: 'ASC' } });
      return toOperation(row, steps);
    });
  }

  /** The operations the filter selects, newest first. */
  async listOperations(filter: OperationFilter): Promise<OperationRecord[]> {
    return runRead(this.ds, async (m) => {
      const qb = m.getRepository<OperationRow>('operation').createQueryBuilder('o');
      if (filter.protectionGroupId)
        qb.andWhere('o.protection_group_id = :pg', { pg: filter.protectionGroupId });
      if (filter.types?.length) qb.andWhere('o.type IN (:...types)', { types: filter.types });
      if (filter.statuses?.length) qb.andWhere('o.status IN (:...statuses)', { statuses: filter.statuses });
      if (filter.since) qb.andWhere('o.created_at >= :since', { since: filter.since.toISOString() });
      if (filter.active) qb.andWhere('o.active_group IS NOT NULL');
      if (filter.cancelRequested !== undefined)
        qb.andWhere('o.cancel_requested = :cancel', { cancel: filter.cancelRequested ? 1 : 0 });
      const rows = await qb.orderBy('o.created_at', 'DESC').addOrderBy('o.id', 'DESC').getMany();
      const steps = rows.length
        ? await m
            .getRepository<StepRow>('operation_step')
            .createQueryBuilder('s')
            .where('s.operation_id IN (:...ids)', { ids: rows.map((r) => r.id) })
            .orderBy('s.idx', 'ASC')
            .getMany()
        : [];
      return rows.map((r) =>
        toOperation(
          r,
          steps.filter((s) => s.operationId === r.id),
        ),
      );
    });
  }

  /** Updates an operation; a terminal status releases the group for the next operation. */
  async updateOperation(id: string, patch: OperationPatch): Promise<OperationRecord> {
    await runInTransaction(this.ds, async (m) => {
      const row: Partial<OperationRow> = {};
      if (patch.status) {
        row.status = patch.status;
        row.activeGroup = TERMINAL_STATUSES.includes(patch.status) ? null : undefined;
        if (!TERMINAL_STATUSES.includes(patch.status)) {
          const op = await m.getRepository<OperationRow>('operation').findOneByOrFail({ id });
          row.activeGroup = op.protectionGroupId;
        }
      }
      if (patch.recoveryPoint !== undefined)
        row.recoveryPoint = patch.recoveryPoint ? JSON.stringify(patch.recoveryPoint) : null;
      if (patch.members) row.members = JSON.stringify(patch.members);
      if (patch.error !== undefined) row.error = patch.error ? JSON.stringify(patch.error) : null;
      if (patch.cancelRequested !== undefined) row.cancelRequested = patch.cancelRequested ? 1 : 0;
      if (patch.rollbackRequested !== undefined) row.rollbackRequested = patch.rollbackRequested ? 1 : 0;
      if (patch.startedAt) row.startedAt = patch.startedAt.toISOString();
      if (patch.finishedAt !== undefined)
        row.finishedAt = patch.finishedAt ? patch.finishedAt.toISOString() : null;
      if (patch.sourceSite !== undefined) row.sourceSite = patch.sourceSite;
      if (patch.targetSite !== undefined) row.targetSite = patch.targetSite;
      try {
        await m.getRepository<OperationRow>('operation').update({ id }, row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new ProtectorError(
            'OPERATION_IN_PROGRESS',
            'Another operation is already acting on this Protection Group.',
          );
        }
        throw err;
      }
    });
    return (await this.getOperation(id))!;
  }

  async updateStep(id: string, index: number, patch: StepPatch): Promise<void> {
    const row: Partial<StepRow> = {};
    if (patch.status) row.status = patch.status;
    if (patch.attempt !== undefined) row.attempt = patch.attempt;
    if (patch.startedAt !== undefined) row.startedAt = patch.startedAt ? patch.startedAt.toISOString() : null;
    if (patch.finishedAt !== undefined)
      row.finishedAt = patch.finishedAt ? patch.finishedAt.toISOString() : null;
    if (patch.error !== undefined) row.error = patch.error ? JSON.stringify(patch.error) : null;
    if (patch.result !== undefined) row.result = JSON.stringify(patch.result);
    await runInTransaction(this.ds, (m) =>
      m.getRepository<StepRow>('operation_step').update({ operationId: id, idx: index }, row),
    );
  }
}

function toOperation(r: OperationRow, steps: StepRow[]): OperationRecord {
  return {
    id: r.id,
    type: r.type as OperationType,
    status: r.status as OperationStatus,
    protectionGroupId: r.protectionGroupId,
    protectionGroupName: r.protectionGroupName,
    sourceSite: r.sourceSite,
    targetSite: r.targetSite,
    params: json<Record<string, unknown>>(r.params) ?? {},
    recoveryPoint: json(r.recoveryPoint),
    members: json<MemberResult[]>(r.members) ?? [],
    error: json(r.error),
    requestedBy: r.requestedBy,
    cancelRequested: r.cancelRequested === 1,
    rollbackRequested: r.rollbackRequested === 1,
    sequence: r.sequence,
    createdAt: new Date(r.createdAt),
    startedAt: date(r.startedAt),
    finishedAt: date(r.finishedAt),
    owner: r.owner ?? null,
    leaseUntil: date(r.leaseUntil ?? null),
    steps: steps.map((s) => ({
      index: s.idx,
      key: s.key,
      name: s.name,
      site: s.site,
      phase: s.phase as 'forward' | 'rollback',
      status: s.status as StepStatus,
      attempt: s.attempt,
      startedAt: date(s.startedAt),
      finishedAt: date(s.finishedAt),
      error: json(s.error),
      result: json(s.result),
    })),
  };
}
