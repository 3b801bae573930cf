/**
 * The arrays' identities as last seen, kept in `$state_path/storage-arrays.json`, so that a site
 * whose peer datacenter (array included) is gone can restart and still address the peer's array by
 * name: recovery points on the surviving array are named after it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArrayIdentity } from '@protector/storage-drivers';

export const ARRAY_IDENTITIES_FILE = 'storage-arrays.json';

/** The identities recorded under `statePath`; none when the file is absent or unreadable. */
export function loadArrayIdentities(statePath: string, warn: (message: string) => void): ArrayIdentity[] {
  const file = join(statePath, ARRAY_IDENTITIES_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const parsed = JSON.parse(text) as { arrays?: unknown };
    if (!Array.isArray(parsed.arrays)) throw new Error('no "arrays" list');
    return parsed.arrays.filter(
      (a): a is ArrayIdentity =>
        typeof a === 'object' && a !== null && typeof a.endpoint === 'string' && typeof a.name === 'string',
    );
  } catch (err) {
    warn(`ignoring ${file}: ${(err as Error).message}; it is rewritten when both arrays answer`);
    return [];
  }
}

/** Records identities (merged with the ones already known at other endpoints), atomically, mode 0600. */
export function saveArrayIdentities(
  statePath: string,
  seen: readonly ArrayIdentity[],
  known: ArrayIdentity[],
): void {
  const merged = [
    ...seen.map(({ endpoint, name, id, version }) => ({ endpoint, name, id, version })),
    ...known.filter((k) => !seen.some((s) => s.endpoint === k.endpoint)),
  ];
  known.splice(0, known.length, ...merged);
  const file = join(statePath, ARRAY_IDENTITIES_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ arrays: merged }, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
