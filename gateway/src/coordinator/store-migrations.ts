/**
 * Creating and upgrading the coordinator database: its migrations, and opening it migrated (on
 * PostgreSQL, gateways that start together take turns on an advisory lock).
 */
import { createDataSource, parseDatabaseUrl } from '@protector/platform/db';
import { ProtectorError, redactUrlPassword } from '@protector/schema';
import pg from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { coordinatorEntities } from './store-tables.js';

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

/**
 * Opens the coordinator database and migrates it. On PostgreSQL, gateways that start together
 * would run the migrations together (TypeORM takes no lock): they take turns on an advisory lock.
 */
export async function openCoordinatorDataSource(url: string): Promise<DataSource> {
  const open = () =>
    createDataSource(
      {
        entities: coordinatorEntities,
        migrations: COORDINATOR_MIGRATIONS,
        applicationName: 'protector-gateway',
      },
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
