/** FlashArray REST list conventions: `filter`, `sort`, `limit`, `continuation_token`, the list envelope. */

export type Item = Record<string, unknown>;

export interface ListEnvelope {
  items: Item[];
  continuation_token: string | null;
  more_items_remaining: boolean;
  total_item_count: number | null;
}

/** Reads `a.b.c` from an item. */
function pick(item: Item, path: string): unknown {
  let value: unknown = item;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Item)[key];
  }
  return value;
}

/** The comparison operators of a filter clause (CLAUSE_RE matches exactly these). */
type FilterOp = '=' | '!=' | '>=' | '<=' | '>' | '<';

const CLAUSE_RE = /^\s*([a-z_.]+)\s*(=|!=|>=|<=|>|<)\s*(?:'([^']*)'|"([^"]*)"|([^\s]+))\s*$/;

/** A predicate for a FlashArray `filter` expression: clauses `field op value` joined by `and`. */
export function compileFilter(expr: string | undefined): (item: Item) => boolean {
  if (!expr) return () => true;
  const clauses = expr.split(/\s+and\s+/i).map((clause) => {
    const m = CLAUSE_RE.exec(clause);
    if (!m) throw new Error(`Invalid filter '${expr}'.`);
    const [, field, op, q1, q2, bare] = m;
    const raw = q1 ?? q2 ?? bare ?? '';
    return { field: field!, op: op as FilterOp, raw, pattern: raw.includes('*') ? wildcard(raw) : null };
  });
  return (item) =>
    clauses.every(({ field, op, raw, pattern }) => {
      const value = pick(item, field);
      // As on an array, a field without a value matches no comparison but `!=`.
      if (value === null || value === undefined) return op === '!=';
      const numeric = typeof value === 'number' && raw.trim() !== '' && !Number.isNaN(Number(raw));
      const a: number | string = numeric ? (value as number) : String(value);
      const b: number | string = numeric ? Number(raw) : raw;
      switch (op) {
        case '=':
          return pattern && !numeric ? pattern.test(String(a)) : a === b;
        case '!=':
          return a !== b;
        case '>':
          return a > b;
        case '<':
          return a < b;
        case '>=':
          return a >= b;
        case '<=':
          return a <= b;
        default: {
          const unreachable: never = op;
          throw new Error(`Invalid filter operator '${String(unreachable)}'.`);
        }
      }
    });
}

/**
 * The prefix every `name` a filter selects starts with, when the filter says `name='<prefix>*'` (and
 * maybe more): a list can read just that range of names. Null otherwise.
 */
export function namePrefix(expr: string | undefined): string | null {
  for (const clause of expr?.split(/\s+and\s+/i) ?? []) {
    const m = CLAUSE_RE.exec(clause);
    const raw = m?.[3] ?? m?.[4] ?? m?.[5];
    if (m?.[1] === 'name' && m[2] === '=' && raw && raw.indexOf('*') === raw.length - 1)
      return raw.slice(0, -1);
  }
  return null;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A name pattern where `*` stands for any run of characters, as FlashArray's filters and names take it. */
export const wildcard = (pattern: string): RegExp =>
  new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`);

/** Applies filter, sort, limit and continuation token to a full list of items. */
export function listEnvelope(all: Item[], query: Record<string, string | undefined>): ListEnvelope {
  let items = all.filter(compileFilter(query.filter));
  if (query.sort) {
    const keys = query.sort.split(',').map((k) => ({ key: k.replace(/-$/, ''), desc: k.endsWith('-') }));
    items = [...items].sort((x, y) => {
      for (const { key, desc } of keys) {
        const a = pick(x, key) as number | string;
        const b = pick(y, key) as number | string;
        if (a === b) continue;
        return (a < b ? -1 : 1) * (desc ? -1 : 1);
      }
      return 0;
    });
  }
  const start = query.continuation_token ? decodeToken(query.continuation_token) : whole(query, 'offset', 0);
  const limit = whole(query, 'limit', Number.MAX_SAFE_INTEGER);
  const page = items.slice(start, start + limit);
  const more = start + page.length < items.length;
  return {
    items: page,
    continuation_token: more ? encodeToken(start + page.length) : null,
    more_items_remaining: more,
    // As on an array: counted only when asked for (`total_item_count=true`).
    total_item_count: query.total_item_count === 'true' ? items.length : null,
  };
}

/** A whole-number query parameter (`limit`, `offset`), or its default when absent. */
function whole(query: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = query[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`Invalid ${name} '${raw}'. Give a whole number, 0 or more.`);
  return n;
}

const encodeToken = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64url');

function decodeToken(token: string): number {
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
  if (!m) throw new Error(`Invalid continuation_token '${token}'.`);
  return Number(m[1]);
}
