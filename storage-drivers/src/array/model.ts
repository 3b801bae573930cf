/**
 * The array model's SQLite tables and row shapes, and the handle every part of the model works on:
 * the database, simulated time and the time one group snapshot takes to transfer.
 */
import { openSqlite } from '@protector/platform/sqlite';
import type Database from 'better-sqlite3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS arrays (
  name TEXT PRIMARY KEY, id TEXT NOT NULL, down INTEGER NOT NULL DEFAULT 0,
  rate_limit INTEGER NOT NULL DEFAULT 0, slow_factor REAL NOT NULL DEFAULT 1, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS links (
  a TEXT NOT NULL, b TEXT NOT NULL, status TEXT NOT NULL, type TEXT NOT NULL DEFAULT 'sync-replication',
  PRIMARY KEY (a, b));
CREATE TABLE IF NOT EXISTS volumes (
  array TEXT NOT NULL, name TEXT NOT NULL, serial TEXT NOT NULL, provisioned INTEGER NOT NULL,
  destroyed INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, source TEXT,
  content_origin TEXT, content_version INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (array, name));
CREATE TABLE IF NOT EXISTS pgroups (
  array TEXT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL, destroyed INTEGER NOT NULL DEFAULT 0,
  schedule_enabled INTEGER NOT NULL DEFAULT 0, frequency_ms INTEGER NOT NULL DEFAULT 3600000,
  last_scheduled INTEGER, all_for_sec INTEGER NOT NULL DEFAULT 86400, per_day INTEGER NOT NULL DEFAULT 4,
  days INTEGER NOT NULL DEFAULT 7, created INTEGER NOT NULL, snap_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (array, name));
CREATE TABLE IF NOT EXISTS pgroup_volumes (
  array TEXT NOT NULL, pgroup TEXT NOT NULL, volume TEXT NOT NULL, PRIMARY KEY (array, pgroup, volume));
CREATE TABLE IF NOT EXISTS pgroup_targets (
  array TEXT NOT NULL, pgroup TEXT NOT NULL, target TEXT NOT NULL, allowed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (array, pgroup, target));
CREATE TABLE IF NOT EXISTS pgroup_snaps (
  array TEXT NOT NULL, name TEXT NOT NULL, pgroup TEXT NOT NULL, source_array TEXT NOT NULL,
  suffix TEXT NOT NULL, created INTEGER NOT NULL, duration_ms INTEGER NOT NULL DEFAULT 0,
  transferred_ms INTEGER NOT NULL DEFAULT 0, last_tick INTEGER NOT NULL, completed INTEGER,
  destroyed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (array, name));
CREATE TABLE IF NOT EXISTS volume_snaps (
  array TEXT NOT NULL, name TEXT NOT NULL, volume TEXT NOT NULL, pgroup_snap TEXT,
  provisioned INTEGER NOT NULL, created INTEGER NOT NULL, serial TEXT NOT NULL,
  content_origin TEXT, content_version INTEGER NOT NULL DEFAULT 0, destroyed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (array, name));
CREATE INDEX IF NOT EXISTS pgroup_snaps_running ON pgroup_snaps (array) WHERE completed IS NULL;
CREATE INDEX IF NOT EXISTS pgroup_snaps_by_group ON pgroup_snaps (array, pgroup, created);
CREATE INDEX IF NOT EXISTS pgroup_snaps_by_name ON pgroup_snaps (name);
CREATE INDEX IF NOT EXISTS pgroups_due ON pgroups (last_scheduled + frequency_ms)
  WHERE schedule_enabled = 1 AND destroyed = 0;
CREATE INDEX IF NOT EXISTS volume_snaps_by_point ON volume_snaps (array, pgroup_snap);
CREATE TABLE IF NOT EXISTS pods (name TEXT PRIMARY KEY, created INTEGER NOT NULL, destroyed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS pod_arrays (
  pod TEXT NOT NULL, array TEXT NOT NULL, status TEXT NOT NULL, promotion TEXT NOT NULL,
  position INTEGER NOT NULL, PRIMARY KEY (pod, array));
`;

export interface ArrayRow {
  name: string;
  id: string;
  down: number;
  rate_limit: number;
  slow_factor: number;
  created: number;
}

export interface VolumeRow {
  array: string;
  name: string;
  serial: string;
  provisioned: number;
  destroyed: number;
  created: number;
  source: string | null;
  content_origin: string | null;
  content_version: number;
}

export interface PgroupRow {
  array: string;
  name: string;
  source: string;
  destroyed: number;
  schedule_enabled: number;
  frequency_ms: number;
  last_scheduled: number | null;
  all_for_sec: number;
  per_day: number;
  days: number;
  created: number;
  snap_seq: number;
}

export interface PgroupSnapRow {
  array: string;
  name: string;
  pgroup: string;
  source_array: string;
  suffix: string;
  created: number;
  duration_ms: number;
  transferred_ms: number;
  last_tick: number;
  completed: number | null;
  destroyed: number;
}

export interface VolumeSnapRow {
  array: string;
  name: string;
  volume: string;
  pgroup_snap: string | null;
  provisioned: number;
  created: number;
  serial: string;
  content_origin: string | null;
  content_version: number;
  destroyed: number;
}

export interface PodArrayRow {
  pod: string;
  array: string;
  status: 'online' | 'offline' | 'resyncing';
  /** As an array reports it: `promoting` / `demoting` until the change completes (next tick). */
  promotion: 'promoted' | 'demoted' | 'promoting' | 'demoting';
  position: number;
}

/** What every part of the model works on; the store opens one per process. */
export interface ArrayModel {
  readonly db: Database.Database;
  /** Simulated time, milliseconds since the epoch. */
  readonly now: () => number;
  /** Simulated time to transfer one group snapshot to its target, before the source's `slowFactor`. */
  readonly transferMs: number;
}

/** Opens (creating when needed) the model's database; several processes may open the same file. */
export function openArrayModel(file: string, now: () => number, transferMs: number): ArrayModel {
  const db = openSqlite(file, { schema: SCHEMA });
  // A data dir from before connections had a type: theirs is sync-replication (carries pods and groups).
  const columns = db.prepare('PRAGMA table_info(links)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'type')) {
    db.exec("ALTER TABLE links ADD COLUMN type TEXT NOT NULL DEFAULT 'sync-replication'");
  }
  // Array times are whole milliseconds since the epoch.
  return { db, now: () => Math.floor(now()), transferMs };
}
