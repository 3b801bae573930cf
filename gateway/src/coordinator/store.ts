/**
 * The coordinator's own database: the site registry (service credentials encrypted at rest) and the
 * operation journal (operations and their steps). Protection Group metadata is not here: it lives on
 * both sites. One active operation per Protection Group is enforced by a unique index.
 */
import { randomUUID } from 'node:crypto';
import { ProtectorError } from '@protector/schema';
import {
  createDataSource,
  type DatabaseDialect,
  decryptSecret,
  encryptSecret,
  runInTransaction,
  runRead,
  type SecretKey,
} from '@protector/schema/db';
import { type DataSource, EntitySchema, type MigrationInterface, type QueryRunner } from 'typeorm';

export interface ServiceCredentials {
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName: string;
  readonly projectDomainName: string;
}

export interface SiteRecord {
  readonly name: string;
  readonly key: string;
  readonly description: string | null;
  readonly url: string;
  readonly authUrl: string;
  readonly registeredAt: Date;
  readonly hasServiceCredentials: boolean;
}

export type OperationType =
  | 'PLANNED_FAILOVER'
  | 'UNPLANNED_FAILOVER'
  | 'TEST_FAILOVER'
  | 'TEST_CLEANUP'
  | 'FAILBACK'
  | 'SYNC';
export type OperationStatus =
  | 'PENDING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'PARTIAL'
  | 'CANCELLING'
  | 'CANCELLED'
  | 'ROLLING_BACK'
  | 'ROLLED_BACK';
export type StepStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CANCELLED';

export const TERMINAL_STATUSES: readonly OperationStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'PARTIAL',
  'CANCELLED',
  'ROLLED_BACK',
];

export interface ErrorJson {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

export interface StepRecord {
  readonly index: number;
  readonly key: string;
  readonly name: string;
  /** Site name, or null for a coordinator-only step. */
  readonly site: string | null;
  readonly phase: 'forward' | 'rollback';
  readonly status: StepStatus;
  readonly attempt: number;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly error: ErrorJson | null;
  readonly result: unknown;
}

export interface MemberResult {
  readonly memberId: string;
  readonly memberName: string;
  readonly status: StepStatus;
  readonly site: string | null;
  readonly serverId: string | null;
  readonly error: ErrorJson | null;
}

export interface OperationRecord {
  readonly id: string;
  readonly type: OperationType;
  readonly status: OperationStatus;
  readonly protectionGroupId: string;
  readonly protectionGroupName: string;
  readonly sourceSite: string | null;
  readonly targetSite: string | null;
  readonly params: Record<string, unknown>;
  readonly recoveryPoint: Record<string, unknown> | null;
  readonly members: readonly MemberResult[];
  readonly error: ErrorJson | null;
  readonly requestedBy: string | null;
  readonly cancelRequested: boolean;
  readonly rollbackRequested: boolean;
  readonly sequence: number;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly steps: readonly StepRecord[];
}

interface SiteRow {
  name: string;
  key: string;
  description: string | null;
  url: string;
  authUrl: string;
  credentials: string | null;
  registeredAt: string;
}

interface OperationRow {
  id: string;
  type: string;
  status: string;
  protectionGroupId: string;
  protectionGroupName: string;
  /** Set to the group id while the operation is active: the unique index allows one per group. */
  activeGroup: string | null;
  sourceSite: string | null;
  targetSite: string | null;
  params: string;
  recoveryPoint: string | null;
  members: string;
  error: string | null;
  requestedBy: string | null;
  cancelRequested: number;
  rollbackRequested: number;
  sequence: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

interface StepRow {
  operationId: string;
  idx: number;
  key: string;
  name: string;
  site: string | null;
  phase: string;
  status: string;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  result: string | null;
}

const entities = (_: DatabaseDialect) => [
  new EntitySchema<SiteRow>({
    name: 'site',
    tableName: 'site',
    columns: {
      name: { type: 'varchar', primary: true, length: 64 },
      key: { type: 'varchar', length: 32, unique: true },
      description: { type: 'text', nullable: true },
      url: { type: 'text' },
      authUrl: { type: 'text', name: 'auth_url' },
      credentials: { type: 'text', nullable: true },
      registeredAt: { type: 'varchar', length: 32, name: 'registered_at' },
    },
  }),
  new EntitySchema<OperationRow>({
    name: 'operation',
    tableName: 'operation',
    columns: {
      id: { type: 'varchar', primary: true, length: 36 },
      type: { type: 'varchar', length: 32 },
      status: { type: 'varchar', length: 32 },
      protectionGroupId: { type: 'varchar', length: 64, name: 'protection_group_id' },
      protectionGroupName: { type: 'varchar', length: 255, name: 'protection_group_name' },
      activeGroup: { type: 'varchar', length: 64, nullable: true, name: 'active_group', unique: true },
      sourceSite: { type: 'varchar', length: 64, nullable: true, name: 'source_site' },
      targetSite: { type: 'varchar', length: 64, nullable: true, name: 'target_site' },
      params: { type: 'text' },
      recoveryPoint: { type: 'text', nullable: true, name: 'recovery_point' },
      members: { type: 'text' },
      error: { type: 'text', nullable: true },
      requestedBy: { type: 'varchar', length: 255, nullable: true, name: 'requested_by' },
      cancelRequested: { type: 'integer', name: 'cancel_requested' },
      rollbackRequested: { type: 'integer', name: 'rollback_requested' },
      sequence: { type: 'integer' },
      createdAt: { type: 'varchar', length: 32, name: 'created_at' },
      startedAt: { type: 'varchar', length: 32, nullable: true, name: 'started_at' },
      finishedAt: { type: 'varchar', length: 32, nullable: true, name: 'finished_at' },
    },
  }),
  new EntitySchema<StepRow>({
    name: 'operation_step',
    tableName: 'operation_step',
    columns: {
      operationId: { type: 'varchar', length: 36, primary: true, name: 'operation_id' },
      idx: { type: 'integer', primary: true },
      key: { type: 'varchar', length: 128 },
      name: { type: 'varchar', length: 64 },
      site: { type: 'varchar', length: 64, nullable: true },
      phase: { type: 'varchar', length: 16 },
      status: { type: 'varchar', length: 16 },
      attempt: { type: 'integer' },
      startedAt: { type: 'varchar', length: 32, nullable: true, name: 'started_at' },
      finishedAt: { type: 'varchar', length: 32, nullable: true, name: 'finished_at' },
      error: { type: 'text', nullable: true },
      result: { type: 'text', nullable: true },
    },
  }),
];

/** The coordinator schema; plain SQL that SQLite and PostgreSQL both accept. */
export class InitialCoordinatorSchema1732400000000 implements MigrationInterface {
  name = 'InitialCoordinatorSchema1732400000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE site (
      name varchar(64) PRIMARY KEY, key varchar(32) NOT NULL UNIQUE, description text, url text NOT NULL,
      auth_url text NOT NULL, credentials text, registered_at varchar(32) NOT NULL)`);
    await q.query(`CREATE TABLE operation (
      id varchar(36) PRIMARY KEY, type varchar(32) NOT NULL, status varchar(32) NOT NULL,
      protection_group_id varchar(64) NOT NULL, protection_group_name varchar(255) NOT NULL,
      active_group varchar(64) UNIQUE, source_site varchar(64), target_site varchar(64), params text NOT NULL,
      recovery_point text, members text NOT NULL, error text, requested_by varchar(255),
      cancel_requested integer NOT NULL, rollback_requested integer NOT NULL, sequence integer NOT NULL,
      created_at varchar(32) NOT NULL, started_at varchar(32), finished_at varchar(32))`);
    await q.query('CREATE INDEX operation_pg ON operation (protection_group_id, created_at)');
    await q.query(`CREATE TABLE operation_step (
      operation_id varchar(36) NOT NULL REFERENCES operation (id) ON DELETE CASCADE, idx integer NOT NULL,
      key varchar(128) NOT NULL, name varchar(64) NOT NULL, site varchar(64), phase varchar(16) NOT NULL,
      status varchar(16) NOT NULL, attempt integer NOT NULL, started_at varchar(32), finished_at varchar(32),
      error text, result text, PRIMARY KEY (operation_id, idx))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE operation_step');
    await q.query('DROP TABLE operation');
    await q.query('DROP TABLE site');
  }
}

export const openCoordinatorDataSource = (url: string): Promise<DataSource> =>
  createDataSource(
    { entities, migrations: [InitialCoordinatorSchema1732400000000], applicationName: 'protector-gateway' },
    { url },
  );

const json = <T>(text: string | null): T | null => (text ? (JSON.parse(text) as T) : null);
const date = (text: string | null): Date | null => (text ? new Date(text) : null);
const now = () => new Date().toISOString();

export interface NewStep {
  readonly key: string;
  readonly name: string;
  readonly site: string | null;
  readonly phase?: 'forward' | 'rollback';
}

/** Repository over the coordinator database. */
export class CoordinatorStore {
  constructor(
    private readonly ds: DataSource,
    private readonly secretKey: SecretKey,
  ) {}

  // ---- sites ----

  async listSites(): Promise<SiteRecord[]> {
    const rows = await runRead(this.ds, (m) =>
      m.getRepository<SiteRow>('site').find({ order: { registeredAt: 'ASC' } }),
    );
    return rows.map(toSite);
  }

  async getSite(name: string): Promise<SiteRecord | null> {
    const row = await runRead(this.ds, (m) => m.getRepository<SiteRow>('site').findOneBy({ name }));
    return row ? toSite(row) : null;
  }

  async registerSite(
    input: Omit<SiteRecord, 'registeredAt' | 'hasServiceCredentials'> & {
      credentials?: ServiceCredentials | null;
    },
  ) {
    return runInTransaction(this.ds, async (m) => {
      const repo = m.getRepository<SiteRow>('site');
      const existing = await repo.findOneBy({ name: input.name });
      const sameKey = await repo.findOneBy({ key: input.key });
      if (sameKey && sameKey.name !== input.name) {
        throw new ProtectorError(
          'ALREADY_EXISTS',
          `Site key '${input.key}' is already used by site '${sameKey.name}'; choose another key.`,
        );
      }
      const row: SiteRow = {
        name: input.name,
        key: input.key,
        description: input.description,
        url: input.url,
        authUrl: input.authUrl,
        credentials: input.credentials
          ? encryptSecret(this.secretKey, JSON.stringify(input.credentials), `site:${input.name}`)
          : (existing?.credentials ?? null),
        registeredAt: existing?.registeredAt ?? now(),
      };
      await repo.save(row);
      return toSite(row);
    });
  }

  async deleteSite(name: string): Promise<void> {
    await runInTransaction(this.ds, (m) => m.getRepository<SiteRow>('site').delete({ name }));
  }

  /** The decrypted service credentials of a site (never returned by the API). */
  async serviceCredentials(name: string): Promise<ServiceCredentials | null> {
    const row = await runRead(this.ds, (m) => m.getRepository<SiteRow>('site').findOneBy({ name }));
    if (!row?.credentials) return null;
    return JSON.parse(decryptSecret(this.secretKey, row.credentials, `site:${name}`)) as ServiceCredentials;
  }

  // ---- operations ----

  /** Creates an operation and its steps; refuses with OPERATION_IN_PROGRESS while another acts on the group. */
  async createOperation(input: {
    type: OperationType;
    protectionGroupId: string;
    protectionGroupName: string;
    sourceSite: string | null;
    targetSite: string | null;
    params: Record<string, unknown>;
    requestedBy: string | null;
    steps: readonly NewStep[];
  }): Promise<OperationRecord> {
    const id = randomUUID();
    await runInTransaction(this.ds, async (m) => {
      const ops = m.getRepository<OperationRow>('operation');
      const active = await ops.findOneBy({ activeGroup: input.protectionGroupId });
      if (active) {
        throw new ProtectorError(
          'OPERATION_IN_PROGRESS',
          `Operation ${active.id} (${active.type}, ${active.status}) is acting on Protection Group '${input.protectionGroupName}'; wait for it, or cancel it with cancelOperation.`,
          { operation: active.id },
        );
      }
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
        createdAt: now(),
        startedAt: null,
        finishedAt: null,
      });
      await this.insertSteps(m.getRepository<StepRow>('operation_step'), id, 0, input.steps);
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

  async listOperations(filter: {
    protectionGroupId?: string;
    types?: readonly string[];
    statuses?: readonly string[];
    since?: Date;
    active?: boolean;
  }): Promise<OperationRecord[]> {
    return runRead(this.ds, async (m) => {
      const qb = m.getRepository<OperationRow>('operation').createQueryBuilder('o');
      if (filter.protectionGroupId)
        qb.andWhere('o.protection_group_id = :pg', { pg: filter.protectionGroupId });
      if (filter.types?.length) qb.andWhere('o.type IN (:...types)', { types: filter.types });
      if (filter.statuses?.length) qb.andWhere('o.status IN (:...statuses)', { statuses: filter.statuses });
      if (filter.since) qb.andWhere('o.created_at >= :since', { since: filter.since.toISOString() });
      if (filter.active) qb.andWhere('o.active_group IS NOT NULL');
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
  async updateOperation(
    id: string,
    patch: Partial<{
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
    }>,
  ): Promise<OperationRecord> {
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
        if (/unique|duplicate/i.test((err as Error).message)) {
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

  async updateStep(
    id: string,
    index: number,
    patch: Partial<{
      status: StepStatus;
      attempt: number;
      startedAt: Date | null;
      finishedAt: Date | null;
      error: ErrorJson | null;
      result: unknown;
    }>,
  ): Promise<void> {
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

  /** The next event sequence number of an operation (persisted, so it keeps rising across restarts). */
  async nextSequence(id: string): Promise<number> {
    return runInTransaction(this.ds, async (m) => {
      const repo = m.getRepository<OperationRow>('operation');
      const row = await repo.findOneByOrFail({ id });
      await repo.update({ id }, { sequence: row.sequence + 1 });
      return row.sequence + 1;
    });
  }
}

function toSite(r: SiteRow): SiteRecord {
  return {
    name: r.name,
    key: r.key,
    description: r.description,
    url: r.url,
    authUrl: r.authUrl,
    registeredAt: new Date(r.registeredAt),
    hasServiceCredentials: !!r.credentials,
  };
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
