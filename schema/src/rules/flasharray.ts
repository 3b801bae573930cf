/**
 * FlashArray naming and sizing rules: enforced by the array models (mock and fa-sim), checked early by
 * the drivers, and by the gateway and the sites for names users give (e.g. `purePgName`).
 */

const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Why `name` is not a legal FlashArray object name, or null when it is.
 * Rules: 1-63 characters; letters, digits and '-'; starts and ends with a letter or digit; not all digits.
 */
export function flashArrayNameProblem(name: string): string | null {
  if (!NAME_RE.test(name) || /^[0-9]+$/.test(name)) {
    return `Invalid name '${name}'. Names must be 1-63 characters of letters, digits and '-', begin and end with a letter or digit, and contain at least one letter or '-'.`;
  }
  return null;
}

/** A volume name may sit in a pod: `pod::volume`. */
export function volumeNameProblem(name: string): string | null {
  const parts = name.split('::');
  if (parts.length > 2) return flashArrayNameProblem(name);
  for (const part of parts) {
    const problem = flashArrayNameProblem(part);
    if (problem) return problem.replace(`'${part}'`, `'${name}'`);
  }
  return null;
}

export const SECTOR_BYTES = 512;
/** 4 PiB, the largest volume a FlashArray provisions. */
export const MAX_VOLUME_BYTES = 4 * 1024 ** 5;

/** Why `bytes` is not a legal provisioned size, or null. */
export function sizeProblem(bytes: unknown): string | null {
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes <= 0) {
    return `Invalid provisioned size '${String(bytes)}'. Size must be a positive whole number of bytes.`;
  }
  if (bytes % SECTOR_BYTES !== 0) {
    return `Invalid provisioned size '${bytes}'. Size must be a multiple of 512 bytes.`;
  }
  if (bytes > MAX_VOLUME_BYTES) {
    return `Invalid provisioned size '${bytes}'. Size must not exceed 4 PiB.`;
  }
  return null;
}

/** Snapshot suffixes follow the name rules except that they may be all digits (scheduled snapshots are numbered). */
export function suffixProblem(suffix: string): string | null {
  if (/^[0-9]{1,63}$/.test(suffix)) return null;
  return flashArrayNameProblem(suffix)?.replace('Invalid name', 'Invalid suffix') ?? null;
}
