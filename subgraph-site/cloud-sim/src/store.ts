import { openSqlite } from '@protector/platform/sqlite';
import type Database from 'better-sqlite3';

/** Every kind of object the simulated cloud keeps, one namespace of ids each. */
export type ResourceKind =
  | 'domain'
  | 'project'
  | 'user'
  | 'role'
  | 'assignment'
  | 'app_credential'
  | 'catalog_service'
  | 'flavor'
  | 'image'
  | 'server'
  /** A deleted server, as Nova keeps its row: listed with `changes-since` as DELETED. */
  | 'deleted_server'
  | 'volume'
  | 'volume_type'
  | 'group_type'
  | 'group'
  | 'network'
  | 'subnet'
  | 'port';

/** A stored object: any JSON document with an id. */
export interface StoredResource {
  id: string;
}

/** A Keystone token as stored: the opaque id and the token body without its catalog. */
export interface StoredToken {
  id: string;
  expiresAt: number;
  body: Record<string, unknown>;
}

/**
 * The simulated cloud's SQLite store. Objects are JSON documents keyed by (kind, id): the
 * simulator's handlers own their shapes, the store only persists them, so a restart with the
 * same file keeps the cloud as it was.
 */
/** Kinds whose change can change what a token is worth (its user, project, roles). */
const IDENTITY_KINDS: ReadonlySet<ResourceKind> = new Set([
  'domain',
  'project',
  'user',
  'role',
  'assignment',
  'app_credential',
]);

export class CloudStore {
  readonly db: Database.Database;
  /**
   * Changes to identities, tokens and revocations so far: a token validated at one generation is
   * still worth the same while it lasts (the services' token cache, as keystonemiddleware keeps one).
   */
  identityGeneration = 0;

  constructor(path: string) {
    this.db = openSqlite(path, {
      schema: `
        CREATE TABLE IF NOT EXISTS resources (
          kind TEXT NOT NULL,
          id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          body TEXT NOT NULL,
          PRIMARY KEY (kind, id)
        );
        CREATE INDEX IF NOT EXISTS resources_kind_seq ON resources (kind, seq);
        CREATE TABLE IF NOT EXISTS tokens (
          id TEXT PRIMARY KEY,
          expires_at INTEGER NOT NULL,
          body TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `,
    });
  }

  get<T extends StoredResource>(kind: ResourceKind, id: string): T | undefined {
    const row = this.db.prepare('SELECT body FROM resources WHERE kind = ? AND id = ?').get(kind, id) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as T) : undefined;
  }

  /** All objects of a kind in creation order, optionally filtered. */
  list<T extends StoredResource>(kind: ResourceKind, filter?: (item: T) => boolean): T[] {
    const rows = this.db.prepare('SELECT body FROM resources WHERE kind = ? ORDER BY seq').all(kind) as {
      body: string;
    }[];
    const items = rows.map((row) => JSON.parse(row.body) as T);
    return filter ? items.filter(filter) : items;
  }

  /**
   * The objects of a kind that an SQL condition on their JSON `body` selects (e.g.
   * `json_extract(body, '$.updated') >= ?`), in creation order, optionally filtered: a listing that
   * parses only what it returns.
   */
  listWhere<T extends StoredResource>(
    kind: ResourceKind,
    condition: string,
    params: readonly unknown[],
    filter?: (item: T) => boolean,
  ): T[] {
    const rows = this.db
      .prepare(`SELECT body FROM resources WHERE kind = ? AND (${condition}) ORDER BY seq`)
      .all(kind, ...params) as { body: string }[];
    const items = rows.map((row) => JSON.parse(row.body) as T);
    return filter ? items.filter(filter) : items;
  }

  /** Inserts or replaces an object; a replaced object keeps its place in listing order. */
  put<T extends StoredResource>(kind: ResourceKind, item: T): T {
    this.db
      .prepare(
        `INSERT INTO resources (kind, id, seq, body)
         VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM resources), ?)
         ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body`,
      )
      .run(kind, item.id, JSON.stringify(item));
    if (IDENTITY_KINDS.has(kind)) this.identityGeneration++;
    return item;
  }

  delete(kind: ResourceKind, id: string): boolean {
    if (IDENTITY_KINDS.has(kind)) this.identityGeneration++;
    return this.db.prepare('DELETE FROM resources WHERE kind = ? AND id = ?').run(kind, id).changes > 0;
  }

  /** Runs `fn` in one SQLite write transaction (write-locked from the start, so reads in it stay current). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  putToken(token: StoredToken): void {
    this.db
      .prepare('INSERT INTO tokens (id, expires_at, body) VALUES (?, ?, ?)')
      .run(token.id, token.expiresAt, JSON.stringify(token.body));
  }

  getToken(id: string): StoredToken | undefined {
    const row = this.db.prepare('SELECT id, expires_at, body FROM tokens WHERE id = ?').get(id) as
      | { id: string; expires_at: number; body: string }
      | undefined;
    return row ? { id: row.id, expiresAt: row.expires_at, body: JSON.parse(row.body) } : undefined;
  }

  deleteToken(id: string): void {
    this.identityGeneration++;
    this.db.prepare('DELETE FROM tokens WHERE id = ?').run(id);
  }

  /** Drops every token whose body matches, as Keystone revokes them (a user disabled, a role removed); returns how many. */
  deleteTokens(match: (body: Record<string, unknown>) => boolean): number {
    const rows = this.db.prepare('SELECT id, body FROM tokens').all() as { id: string; body: string }[];
    const doomed = rows.filter((row) => match(JSON.parse(row.body) as Record<string, unknown>));
    const remove = this.db.prepare('DELETE FROM tokens WHERE id = ?');
    for (const row of doomed) remove.run(row.id);
    this.identityGeneration++;
    return doomed.length;
  }

  /** Drops tokens that expired before `now` (ms since epoch). */
  purgeTokens(now: number): void {
    this.db.prepare('DELETE FROM tokens WHERE expires_at < ?').run(now);
  }

  getMeta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    // Revocation events live here.
    this.identityGeneration++;
    this.db
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
