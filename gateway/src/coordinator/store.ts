/**
 * The coordinator's own database: the site registry (service credentials encrypted at rest) and the
 * operation journal (operations and their steps). Protection Group metadata is not here: it lives on
 * both sites. One active operation per Protection Group is enforced by a unique index.
 */
import { randomUUID } from 'node:crypto';
import {
  createDataSource,
  type DatabaseDialect,
  decryptSecret,
  dialectOf,
  encryptSecret,
  parseDatabaseUrl,
  runInTransaction,
  runRead,
  type SecretKey,
} from '@protector/platform/db';
import {
  type ErrorJson,
  type OperationStatus,
  type OperationType,
  ProtectorError,
  redactUrlPassword,
  type StepStatus,
} from '@protector/schema';
import pg from 'pg';
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

/** The enums the journal stores, as the API defines them. */
export type { OperationStatus, OperationType, StepStatus };

export const TERMINAL_STATUSES: readonly OperationStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'PARTIAL',
  'CANCELLED',
  'ROLLED_BACK',
];

export type { ErrorJson };

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
  /** The gateway running the operation, while its lease lasts (see `claimOperation`). */
  readonly owner: string | null;
  readonly leaseUntil: Date | null;
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
  owner: string | null;
  leaseUntil: string | null;
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
  /** The foreign key to the operation (declared so the entities describe the migrated schema). */
  operation?: never;
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
      owner: { type: 'varchar', length: 64, nullable: true },
      leaseUntil: { type: 'varchar', length: 32, nullable: true, name: 'lease_until' },
    },
    indices: [{ name: 'operation_pg', columns: ['protectionGroupId', 'createdAt'] }],
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
    relations: {
      operation: {
        type: 'many-to-one',
        target: 'operation',
        onDelete: 'CASCADE',
        joinColumn: { name: 'operation_id', foreignKeyConstraintName: 'operation_step_operation_id_fkey' },
      },
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

/**
 * Who runs an operation: the gateway holding its lease (`owner` until `lease_until`, an ISO time),
 * so that gateways sharing one PostgreSQL database never run the same operation twice.
 */
export class AddOperationLease1732500000000 implements MigrationInterface {
  name = 'AddOperationLease1732500000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE operation ADD COLUMN owner varchar(64)');
    await q.query('ALTER TABLE operation ADD COLUMN lease_until varchar(32)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE operation DROP COLUMN lease_until');
    await q.query('ALTER TABLE operation DROP COLUMN owner');
  }
}

export const COORDINATOR_MIGRATIONS = [InitialCoordinatorSchema1732400000000, AddOperationLease1732500000000];

/** The PostgreSQL channel operation events are announced on (`NOTIFY`), for the other gateways. */
export const OPERATION_EVENTS_CHANNEL = 'protector_operation_events';
/** The channel on which a gateway tells the others it changed the site registry. */
export const SITES_CHANGED_CHANNEL = 'protector_sites_changed';

const isUniqueViolation = (err: unknown): boolean => {
  const e = err as { code?: unknown; driverError?: { code?: unknown }; message?: unknown };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || /unique|duplicate/i.test(String(e?.message ?? ''));
};

/**
 * Opens the coordinator database and migrates it. On PostgreSQL, gateways that start together
 * would run the migrations together (TypeORM takes no lock): they take turns on an advisory lock.
 */
export async function openCoordinatorDataSource(url: string): Promise<DataSource> {
  const open = () =>
    createDataSource(
      { entities, migrations: COORDINATOR_MIGRATIONS, applicationName: 'protector-gateway' },
      { url },
    );
  const location = parseDatabaseUrl(url);
  if (location.dialect !== 'postgres') return open();
  const lock = new pg.Client({
    connectionString: location.url,
    application_name: 'protector-gateway-migrations',
  });
  lock.on('error', () => undefined);
  try {
    await lock.connect();
    await lock.query("SELECT pg_advisory_lock(hashtext('protector-gateway-migrations'))");
  } catch (err) {
    await lock.end().catch(() => undefined);
    throw new ProtectorError(
      'INTERNAL',
      `Cannot open the protector-gateway database ${redactUrlPassword(location.url)}: ${(err as Error).message}`,
      { dialect: 'postgres' },
      { cause: err },
    );
  }
  try {
    return await open();
  } finally {
    // Ending the session releases the lock.
    await lock.end().catch(() => undefined);
  }
}

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
  /**
   * True on PostgreSQL, where several gateways may share the database: operation leases are
   * enforced and events are announced with NOTIFY. SQLite is one gateway's own database.
   */
  readonly shared: boolean;

  constructor(
    private readonly ds: DataSource,
    private readonly secretKey: SecretKey,
  ) {
    this.shared = dialectOf(ds) === 'postgres';
  }

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
    /** The gateway that will run it: it holds the lease from the start (see `claimOperation`). */
    lease?: { owner: string; ms: number };
  }): Promise<OperationRecord> {
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
        owner: input.lease?.owner ?? null,
        leaseUntil: input.lease ? new Date(Date.now() + input.lease.ms).toISOString() : null,
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

  async listOperations(filter: {
    protectionGroupId?: string;
    types?: readonly string[];
    statuses?: readonly string[];
    since?: Date;
    active?: boolean;
    cancelRequested?: boolean;
  }): Promise<OperationRecord[]> {
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

  /**
   * Numbers the next event of an operation (persisted, so it keeps rising across restarts) and
   * reads the operation's status under the same row lock: an event carries the status the journal
   * had when it was numbered, so a later event never shows an earlier status (a cancellation
   * requested from one gateway while another finishes the operation). The increment locks the
   * row, so concurrent callers (two gateways) get distinct numbers. On PostgreSQL, `announce` may
   * return a payload sent with NOTIFY in the same transaction: listeners get the notifications in
   * commit order, which is sequence order.
   */
  async nextSequence(
    id: string,
    announce?: (sequence: number, status: OperationStatus) => string | null,
  ): Promise<{ sequence: number; status: OperationStatus }> {
    return runInTransaction(this.ds, async (m) => {
      await m
        .createQueryBuilder()
        .update('operation')
        .set({ sequence: () => '"sequence" + 1' })
        .where('id = :id', { id })
        .execute();
      const { sequence, status } = await m.getRepository<OperationRow>('operation').findOneByOrFail({ id });
      const payload = this.shared ? announce?.(sequence, status as OperationStatus) : null;
      if (payload) await m.query('SELECT pg_notify($1, $2)', [OPERATION_EVENTS_CHANNEL, payload]);
      return { sequence, status: status as OperationStatus };
    });
  }

  /** Sends a notification to the gateways listening on `channel` (PostgreSQL only; no-op on SQLite). */
  async notify(channel: string, payload: string): Promise<void> {
    if (this.shared) await this.ds.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  // ---- leases: which gateway runs an operation ----

  /**
   * Takes or extends the lease on an operation for `owner`; false when another gateway holds an
   * unexpired lease. Atomic: one conditional UPDATE (PostgreSQL re-checks the condition after a
   * concurrent claim commits, so two gateways never both win). Times are ISO strings in UTC, which
   * sort as they compare; gateways' clocks must agree to well within the lease (NTP). On SQLite
   * (one gateway) the claim always succeeds, so a restarted gateway resumes at once.
   */
  async claimOperation(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = new Date();
    const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
    const res = await runInTransaction(this.ds, (m) => {
      const qb = m
        .createQueryBuilder()
        .update('operation')
        .set({ owner, leaseUntil })
        .where('id = :id', { id });
      if (this.shared)
        qb.andWhere('("owner" IS NULL OR "owner" = :owner OR "lease_until" < :now)', {
          owner,
          now: now.toISOString(),
        });
      return qb.execute();
    });
    return (res.affected ?? 0) > 0;
  }

  /** Gives up `owner`'s lease (no-op if another gateway took it). */
  async releaseOperation(id: string, owner: string): Promise<void> {
    await runInTransaction(this.ds, (m) =>
      m
        .createQueryBuilder()
        .update('operation')
        .set({ owner: null, leaseUntil: null })
        .where('id = :id AND "owner" = :owner', { id, owner })
        .execute(),
    );
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
