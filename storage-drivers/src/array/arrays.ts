/**
 * Arrays and the replication connections between them: identity, injected faults and link state,
 * and the `GET /arrays` and `GET /array-connections` items.
 */
import { randomUUID } from 'node:crypto';
import { flashArrayNameProblem } from '@protector/schema';
import type { ArrayModel, ArrayRow } from './model.js';
import type { Item } from './query.js';
import { ArrayError, names, type Query, requireExisting } from './rest.js';

/** Faults an array can be given; they survive in the database so every process sees them. */
export interface ArrayFaults {
  /** The array answers nothing (connections refused or dropped). */
  readonly down: boolean;
  /** The next N requests are answered 429. */
  readonly rateLimit: number;
  /** Multiplies snapshot transfer time for groups replicating from this array. */
  readonly slowFactor: number;
}

export type ConnectionStatus = 'connected' | 'disconnected';
/**
 * What a connection carries: `sync-replication` (ActiveCluster pods, and protection groups too) or
 * `async-replication` (protection groups only).
 */
export type ConnectionType = 'sync-replication' | 'async-replication';

/** Creates the arrays that are absent and connects every pair for replication. */
export function seedArrays(m: ArrayModel, arrays: readonly string[]): void {
  for (const name of arrays) {
    const problem = flashArrayNameProblem(name);
    if (problem) throw new Error(problem);
    m.db
      .prepare('INSERT OR IGNORE INTO arrays (name, id, created) VALUES (?, ?, ?)')
      .run(name, randomUUID(), m.now());
  }
  for (const a of arrays) {
    for (const b of arrays) {
      if (a < b)
        m.db.prepare("INSERT OR IGNORE INTO links (a, b, status) VALUES (?, ?, 'connected')").run(a, b);
    }
  }
}

export function arrayRow(m: ArrayModel, name: string): ArrayRow {
  const row = m.db.prepare('SELECT * FROM arrays WHERE name = ?').get(name) as ArrayRow | undefined;
  if (!row) throw new ArrayError(404, `Array '${name}' does not exist.`, name);
  return row;
}

export function arrayNames(m: ArrayModel): string[] {
  return (m.db.prepare('SELECT name FROM arrays ORDER BY name').all() as { name: string }[]).map(
    (r) => r.name,
  );
}

export function arrayFaults(m: ArrayModel, array: string): ArrayFaults {
  const row = arrayRow(m, array);
  return { down: row.down === 1, rateLimit: row.rate_limit, slowFactor: row.slow_factor };
}

export function setArrayFaults(m: ArrayModel, array: string, faults: Partial<ArrayFaults>): void {
  const next = { ...arrayFaults(m, array), ...faults };
  m.db
    .prepare('UPDATE arrays SET down = ?, rate_limit = ?, slow_factor = ? WHERE name = ?')
    .run(next.down ? 1 : 0, next.rateLimit, next.slowFactor, array);
}

/** Links are stored once per pair, the names in order. */
const pair = (a: string, b: string): [string, string] => (a < b ? [a, b] : [b, a]);

export function setLinkStatus(m: ArrayModel, a: string, b: string, status: ConnectionStatus): void {
  const [x, y] = pair(a, b);
  m.db.prepare('UPDATE links SET status = ? WHERE a = ? AND b = ?').run(status, x, y);
}

export function setLinkType(m: ArrayModel, a: string, b: string, type: ConnectionType): void {
  const [x, y] = pair(a, b);
  m.db.prepare('UPDATE links SET type = ? WHERE a = ? AND b = ?').run(type, x, y);
}

export function linkType(m: ArrayModel, a: string, b: string): ConnectionType {
  const [x, y] = pair(a, b);
  const row = m.db.prepare('SELECT type FROM links WHERE a = ? AND b = ?').get(x, y) as
    | { type: ConnectionType }
    | undefined;
  return row?.type ?? 'async-replication';
}

export function linkStatus(m: ArrayModel, a: string, b: string): ConnectionStatus {
  const [x, y] = pair(a, b);
  const row = m.db.prepare('SELECT status FROM links WHERE a = ? AND b = ?').get(x, y) as
    | { status: ConnectionStatus }
    | undefined;
  if (!row) return 'disconnected';
  // A link to an array that is down carries nothing.
  if (arrayRow(m, a).down || arrayRow(m, b).down) return 'disconnected';
  return row.status;
}

/** A reference to an array (REST `Reference`). */
export const arrayRef = (m: ArrayModel, name: string): Item => ({ id: arrayRow(m, name).id, name });

export function arrayItem(m: ArrayModel, name: string): Item {
  const row = arrayRow(m, name);
  return { name: row.name, id: row.id, os: 'Purity//FA', version: '6.5.0', _as_of: m.now() };
}

/** `GET /array-connections`: this array's connections, optionally by `names` (the remote arrays'). */
export function connectionItems(m: ArrayModel, array: string, q: Query = {}): Item[] {
  const remotes = arrayNames(m).filter((n) => n !== array);
  const wanted = names(q.names);
  requireExisting('Array connection', wanted, remotes);
  return (
    remotes
      .filter((n) => !wanted.length || wanted.includes(n))
      // REST 2.26: the connection's `name` is the remote array's (`remote {name}` came with 2.40).
      .map((remote) => ({
        id: `${arrayRow(m, array).id}:${arrayRow(m, remote).id}`,
        name: remote,
        status: linkStatus(m, array, remote),
        type: linkType(m, array, remote),
        replication_transport: 'ip',
        management_address: null,
        replication_addresses: [],
        version: '6.5.0',
      }))
  );
}
