import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions } from 'typeorm';
import { CONSTRAINT, TABLE, timestampType } from '../entities.js';

/**
 * The first site schema. Written with the QueryRunner Table API so the same migration runs on
 * SQLite and PostgreSQL; only the timestamp type differs. Never edit once released: add a migration.
 */
export class InitialSiteSchema1732300000000 implements MigrationInterface {
  readonly name = 'InitialSiteSchema1732300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const dialect = queryRunner.connection.driver.options.type === 'postgres' ? 'postgres' : 'sqlite';
    const str = (name: string, length: number, isNullable = false): TableColumnOptions => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable,
    });
    const pk = (name: string, length = 36): TableColumnOptions => ({ ...str(name, length), isPrimary: true });
    const text = (name: string): TableColumnOptions => ({ name, type: 'text', isNullable: true });
    const int = (name: string, isNullable = false): TableColumnOptions => ({
      name,
      type: 'integer',
      isNullable,
    });
    const json = (name: string, isNullable = false): TableColumnOptions => ({
      name,
      type: 'json',
      isNullable,
    });
    const ts = (name: string, isNullable = false): TableColumnOptions => ({
      name,
      type: timestampType(dialect),
      isNullable,
    });
    const cascadeTo = (name: string, columnNames: string[], referencedTableName: string, column = 'id') => ({
      name,
      columnNames,
      referencedTableName,
      referencedColumnNames: [column],
      onDelete: 'CASCADE',
    });

    await queryRunner.createTable(
      new Table({
        name: TABLE.site,
        columns: [
          pk('name', 64),
          str('role', 8),
          str('auth_url', 512),
          str('status', 16),
          ts('registered_at'),
          ts('updated_at'),
        ],
        indices: [{ name: CONSTRAINT.siteRoleUnique, columnNames: ['role'], isUnique: true }],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: TABLE.protectionGroup,
        columns: [
          pk('id'),
          str('name', 255),
          text('description'),
          str('project_id', 64),
          str('replication_type', 8),
          str('status', 32),
          text('status_reason'),
          str('current_primary_site', 64),
          str('secondary_site', 64),
          int('metadata_version'),
          str('sync_status', 16),
          ts('last_synced_at', true),
          text('last_sync_error'),
          ts('last_replication_at', true),
          str('storage_group_name', 63, true),
          str('consistency_group_id', 64, true),
          str('volume_type', 255, true),
          ts('created_at'),
          ts('updated_at'),
        ],
        indices: [
          { name: CONSTRAINT.pgProjectNameUnique, columnNames: ['project_id', 'name'], isUnique: true },
          { name: CONSTRAINT.pgStatusIndex, columnNames: ['status'] },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: TABLE.member,
        columns: [
          pk('id'),
          str('protection_group_id', 36),
          str('server_id', 64, true),
          str('name', 255),
          str('status', 32),
          json('site_server_ids'),
          text('error_reason'),
          ts('created_at'),
          ts('updated_at'),
        ],
        indices: [
          { name: CONSTRAINT.memberPgIndex, columnNames: ['protection_group_id'] },
          {
            name: CONSTRAINT.memberPgServerUnique,
            columnNames: ['protection_group_id', 'server_id'],
            isUnique: true,
          },
        ],
        foreignKeys: [cascadeTo(CONSTRAINT.memberPgFk, ['protection_group_id'], TABLE.protectionGroup)],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: TABLE.memberVolume,
        columns: [
          pk('id'),
          str('member_id', 36),
          int('position'),
          str('volume_id', 64, true),
          str('array_volume_name', 255, true),
          int('size_gb'),
          int('boot_index', true),
          str('device_name', 64, true),
          str('volume_type', 255, true),
          json('site_volume_ids'),
        ],
        indices: [{ name: CONSTRAINT.volumeMemberIndex, columnNames: ['member_id'] }],
        foreignKeys: [cascadeTo(CONSTRAINT.volumeMemberFk, ['member_id'], TABLE.member)],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: TABLE.replicationPolicy,
        columns: [
          pk('protection_group_id'),
          str('primary_array_url', 512),
          str('secondary_array_url', 512),
          text('primary_token_cipher'),
          text('secondary_token_cipher'),
          str('pure_pg_name', 63, true),
          int('replication_interval'),
          int('rpo_minutes'),
          str('status', 16),
          ts('created_at'),
          ts('updated_at'),
        ],
        foreignKeys: [cascadeTo(CONSTRAINT.policyPgFk, ['protection_group_id'], TABLE.protectionGroup)],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: TABLE.resourceMapping,
        columns: [
          pk('id'),
          str('scope', 36),
          str('protection_group_id', 36, true),
          str('kind', 16),
          str('source_site', 64),
          str('source_id', 255),
          str('target_site', 64),
          str('target_id', 255),
        ],
        indices: [
          {
            name: CONSTRAINT.mappingSourceUnique,
            columnNames: ['scope', 'kind', 'source_site', 'source_id', 'target_site'],
            isUnique: true,
          },
          { name: CONSTRAINT.mappingTargetIndex, columnNames: ['kind', 'target_site', 'target_id'] },
        ],
        foreignKeys: [cascadeTo(CONSTRAINT.mappingPgFk, ['protection_group_id'], TABLE.protectionGroup)],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: TABLE.tenantMapping,
        columns: [
          pk('id'),
          str('local_site', 64),
          str('local_project_id', 64),
          str('peer_site', 64),
          str('peer_project_id', 64),
          ts('created_at'),
        ],
        indices: [
          {
            name: CONSTRAINT.tenantLocalUnique,
            columnNames: ['local_site', 'local_project_id'],
            isUnique: true,
          },
          {
            name: CONSTRAINT.tenantPeerUnique,
            columnNames: ['peer_site', 'peer_project_id'],
            isUnique: true,
          },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: TABLE.stepAudit,
        columns: [
          pk('id'),
          str('operation_id', 64),
          str('step_key', 255),
          str('name', 255),
          str('status', 16),
          int('attempt'),
          json('request', true),
          json('result', true),
          str('error_code', 64, true),
          text('error_message'),
          ts('started_at'),
          ts('finished_at', true),
        ],
        indices: [
          {
            name: CONSTRAINT.stepOperationKeyUnique,
            columnNames: ['operation_id', 'step_key'],
            isUnique: true,
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      TABLE.stepAudit,
      TABLE.tenantMapping,
      TABLE.resourceMapping,
      TABLE.replicationPolicy,
      TABLE.memberVolume,
      TABLE.member,
      TABLE.protectionGroup,
      TABLE.site,
    ]) {
      await queryRunner.dropTable(table);
    }
  }
}
