import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProtectorError } from '@protector/schema';
import { needs, type Requirement, requirement } from '@protector/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { MockStorageDriver } from './mock-driver.js';

const silent = () => {};

/** The built package, as a second process loads it. */
const DIST = new URL('../../dist/mock.js', import.meta.url).href;

/**
 * Root passes every permission check, so as root the not-writable case runs in a child process that
 * loads the driver (as root: the checkout need not be readable by anyone else) and then drops to
 * `nobody` (uid and gid from `id`, 65534 without such a user) before the check.
 */
const asRoot = process.getuid?.() === 0;
const nobodyId = (flag: '-u' | '-g') => {
  const id = Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout?.trim() || Number.NaN);
  return Number.isInteger(id) ? id : 65534;
};
const NOBODY = { uid: nobodyId('-u'), gid: nobodyId('-g') };
const DROP_TO_NOBODY = `process.setgroups([${NOBODY.gid}]); process.setgid(${NOBODY.gid}); process.setuid(${NOBODY.uid});`;

/** As root: whether a child can drop to nobody here (not in a user namespace without that uid, say). */
function dropToNobody(): Requirement {
  const probe = spawnSync(process.execPath, ['-e', `${DROP_TO_NOBODY} console.log(process.getuid())`], {
    encoding: 'utf8',
    cwd: '/',
  });
  const output = `${probe.stderr ?? ''}\n${probe.stdout ?? ''}`.split('\n');
  const why = probe.error?.message ?? output.find((l) => /^\w*Error\b/.test(l)) ?? output.join(' ').trim();
  return requirement(
    `privileges to switch from root to nobody (uid ${NOBODY.uid})`,
    probe.status === 0 && probe.stdout.trim() === String(NOBODY.uid),
    'run the tests as a non-root user, or as root with CAP_SETUID and CAP_SETGID',
    `a child process could not drop to uid ${NOBODY.uid}, gid ${NOBODY.gid}: ${why}`,
  );
}

/** The refusal both ways end in: the product's advice to create the dir and give it to the service user. */
function expectNotWritableRefusal(message: string, dir: string) {
  expect(message).toContain(`Mock storage directory ${dir} is not writable by this user.`);
  expect(message).toContain(`sudo mkdir -p ${dir}`);
  expect(message).toContain(`sudo chown -R protector:protector ${dir}`);
}

describe('MockStorageDriver', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'protector-mock-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a concurrency that is not a whole number from 1, naming the option', () => {
    for (const concurrency of [0, -1, 2.5]) {
      expect(() => MockStorageDriver.create({ dataDir: tempDir(), concurrency, log: silent })).toThrow(
        `concurrency must be a whole number from 1; got ${concurrency}.`,
      );
    }
  });

  it('fails at start with the product advice when the data dir is missing', () => {
    const missing = join(tempDir(), 'nope', 'mock_storage');
    let err: unknown;
    try {
      MockStorageDriver.create({ dataDir: missing, log: silent });
    } catch (e) {
      err = e;
    }
    expect(isProtectorError(err, 'CONFIG_INVALID')).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain(missing);
    expect(message).toContain(`sudo mkdir -p ${missing}`);
    expect(message).toContain(`sudo chown -R protector:protector ${missing}`);
  });

  needs(...(asRoot ? [dropToNobody()] : [])).it('fails at start when the data dir is not writable', () => {
    const dir = tempDir();
    if (!asRoot) {
      chmodSync(dir, 0o500);
      let err: unknown;
      try {
        MockStorageDriver.create({ dataDir: dir, log: silent });
      } catch (e) {
        err = e;
      } finally {
        chmodSync(dir, 0o700);
      }
      expect(isProtectorError(err, 'CONFIG_INVALID')).toBe(true);
      expectNotWritableRefusal((err as Error).message, dir);
      return;
    }
    // A data dir owned by root with mode 0755: nobody can enter it but not write to it.
    chmodSync(dir, 0o755);
    const script = `
      import { existsSync } from 'node:fs';
      import { MockStorageDriver } from ${JSON.stringify(DIST)};
      ${DROP_TO_NOBODY}
      const dataDir = ${JSON.stringify(dir)};
      const as = { uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), sees: existsSync(dataDir) };
      try {
        MockStorageDriver.create({ dataDir, log: () => {} });
        console.log(JSON.stringify({ as, refused: false }));
      } catch (e) {
        console.log(JSON.stringify({ as, refused: true, code: e.code, message: e.message }));
      }
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: '/',
    });
    const result = JSON.parse(out) as {
      as: { uid: number; gid: number; groups: number[]; sees: boolean };
      refused: boolean;
      code?: string;
      message?: string;
    };
    if (!result.as.sees)
      throw new Error(
        `nobody (uid ${NOBODY.uid}) cannot reach ${dir}: make ${tmpdir()} traversable or set TMPDIR`,
      );
    expect(result.as).toEqual({ uid: NOBODY.uid, gid: NOBODY.gid, groups: [NOBODY.gid], sees: true });
    expect(result.refused).toBe(true);
    expect(result.code).toBe('CONFIG_INVALID');
    expectNotWritableRefusal(result.message ?? '', dir);
  });

  it('shares arrays, volumes and the link between processes pointed at one data dir', async () => {
    const dir = tempDir();
    const here = MockStorageDriver.create({ dataDir: dir, log: silent });
    await here.initialize();
    await here.createVolumes('mock-array-a', [{ name: 'shared-vol', sizeBytes: 1048576 }]);
    here.simulator.simulateWrite('mock-array-a', 'shared-vol');
    // A second process (as the other site's service would be) sees the same array state and changes it.
    const script = `
      import { MockStorageDriver } from ${JSON.stringify(DIST)};
      const d = MockStorageDriver.create({ dataDir: ${JSON.stringify(dir)}, arrays: ['mock-array-b', 'mock-array-a'], log: () => {} });
      await d.initialize();
      const [v] = await d.getVolumes('mock-array-a', ['shared-vol']);
      const [held] = d.simulator.content('mock-array-a', [v.name]);
      d.simulator.setLink('mock-array-a', 'mock-array-b', 'disconnected');
      console.log(JSON.stringify({ version: held.version, arrays: d.arrays().map((a) => a.name) }));
      await d.close();
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ version: 1, arrays: ['mock-array-b', 'mock-array-a'] });
    expect((await here.validate()).link).toBe('disconnected');
    await here.close();
  });
});
