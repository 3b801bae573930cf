/**
 * The coordinator database's tables as TypeORM entity schemas: one row type per table (`site`,
 * `operation`, `operation_step`), columns as the migrations create them.
 */
import type { DatabaseDialect } from '@protector/platform/db';
import { EntitySchema } from 'typeorm';

export interface SiteRow {
  name: string;
  key: string;
  description: string | null;
  url: string;
  authUrl: string;
  credentials: string | null;
  registeredAt: string;
}

export interface OperationRow {
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

export interface StepRow {
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

/** The entity schemas of the coordinator database (the same on SQLite and PostgreSQL). */
export const coordinatorEntities = (_: DatabaseDialect) => [
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
