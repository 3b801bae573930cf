/**
 * Throwaway folders: {@link tempDir} makes one under the OS temp dir, and `cleanup()` removes it with
 * everything in it. Loads nothing but node: modules.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly path: string;
  /** Removes the folder and everything in it (no error if it is gone already). */
  cleanup(): void;
}

/** A new folder `<tmp>/<prefix>-XXXXXX`. */
export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
