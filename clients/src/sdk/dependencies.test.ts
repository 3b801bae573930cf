import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Manifest {
  readonly name: string;
  readonly dependencies?: Readonly<Record<string, string>>;
}

/** Where Node would find package `name` from the package in `fromDir`: the nearest `node_modules/<name>`. */
function resolvePackageDir(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(candidate)) return realpathSync(dirname(candidate));
    if (dirname(dir) === dir) throw new Error(`${name} (needed from ${fromDir}) is not installed`);
  }
}

/**
 * The runtime dependency closure of the package in `rootDir`: its `dependencies`, and theirs, found
 * the way Node finds them (workspace packages through their node_modules/@protector/<name> symlinks).
 * devDependencies are not followed: they are not installed with the package.
 */
function runtimeClosure(rootDir: string): Map<string, string> {
  const found = new Map<string, string>();
  const pending = [realpathSync(rootDir)];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      if (found.has(name)) continue;
      const depDir = resolvePackageDir(name, dir);
      found.set(name, depDir);
      pending.push(depDir);
    }
  }
  return found;
}

describe('@protector/client runtime dependencies', () => {
  const closure = runtimeClosure(fileURLToPath(new URL('../..', import.meta.url)));

  it('reach the contract through @protector/schema (the closure is walked through workspace packages)', () => {
    expect(closure.has('@protector/schema')).toBe(true);
    expect(closure.has('graphql')).toBe(true);
  });

  it.each([
    'better-sqlite3',
    'typeorm',
    'pg',
    '@protector/platform',
  ])('do not include %s (the SDK needs no database or server kit)', (name) => {
    expect([...closure.keys()]).not.toContain(name);
  });
});
