import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProtectorError } from '@protector/schema';
import { afterEach, describe, expect, it } from 'vitest';
import { MockStorageDriver } from './mock-driver.js';

const silent = () => {};

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

  it.runIf(process.getuid?.() !== 0)('fails at start when the data dir is not writable', () => {
    const dir = tempDir();
    chmodSync(dir, 0o500);
    expect(() => MockStorageDriver.create({ dataDir: dir, log: silent })).toThrow(
      /is not writable by this user/,
    );
    chmodSync(dir, 0o700);
  });

  it('shares arrays, volumes and the link between processes pointed at one data dir', async () => {
    const dir = tempDir();
    const here = MockStorageDriver.create({ dataDir: dir, log: silent });
    await here.initialize();
    await here.createVolumes('mock-array-a', [{ name: 'shared-vol', sizeBytes: 1048576 }]);
    here.simulator.simulateWrite('mock-array-a', 'shared-vol');
    // A second process (as the other site's service would be) sees the same array state and changes it.
    const script = `
      import { MockStorageDriver } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
      const d = MockStorageDriver.create({ dataDir: ${JSON.stringify(dir)}, arrays: ['mock-array-b', 'mock-array-a'], log: () => {} });
      await d.initialize();
      const [v] = await d.getVolumes('mock-array-a', ['shared-vol']);
      d.simulator.setLink('mock-array-a', 'mock-array-b', 'disconnected');
      console.log(JSON.stringify({ version: v.content.version, arrays: d.arrays().map((a) => a.name) }));
      await d.close();
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ version: 1, arrays: ['mock-array-b', 'mock-array-a'] });
    expect((await here.validate()).link).toBe('disconnected');
    await here.close();
  });
});
