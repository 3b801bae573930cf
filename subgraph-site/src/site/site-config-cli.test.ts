/** `protector-site` as an operator runs it: --check-config, bad files, a missing mock storage dir. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@protector/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSiteCommand, writeSiteConfig } from '../../test-support/site-process.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('protector-cli');
});
afterAll(() => tmp.cleanup());

describe('protector-site --check-config', () => {
  it('accepts a good file, exits 0 and hides secrets', async () => {
    const mockDir = join(tmp.path, 'mock');
    mkdirSync(mockDir);
    const path = writeSiteConfig({
      name: 'boston',
      dir: tmp.path,
      mockDir,
      arrays: ['mock-array-a', 'mock-array-b'],
      extra: {
        database: ['encryption_key = c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=='],
        keystone_authtoken: ['password = hunter2-service-password'],
        storage: ['primary_array_api_token = T-aaaabbbb-cccc-dddd-eeee-ffffffffffff'],
      },
    });
    const r = await runSiteCommand(['--config', path, '--check-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('configuration is valid');
    expect(r.stdout).toContain('"site_name": "boston"');
    for (const secret of [
      'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==',
      'hunter2-service-password',
      'T-aaaabbbb-cccc-dddd-eeee-ffffffffffff',
    ]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
    expect(r.stdout).toContain('***');
  });

  it("refuses a file without [storage] and without use_mock_storage, with the seed's message", async () => {
    const path = join(tmp.path, 'no-storage.conf');
    writeFileSync(path, '[DEFAULT]\nsite_name = boston\nuse_simulated_cloud = True\n');
    const r = await runSiteCommand(['--config', path, '--check-config']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CONFIG_INVALID');
    expect(r.stderr).toContain('[storage] options missing');
    for (const key of [
      'primary_array_url',
      'primary_array_api_token',
      'secondary_array_url',
      'secondary_array_api_token',
    ]) {
      expect(r.stderr).toContain(key);
    }
    expect(r.stderr).toMatch(/add a complete \[storage\] block/);
    expect(r.stderr).toMatch(/set use_mock_storage = True in \[DEFAULT\]/);
    expect(r.stdout).not.toContain('configuration is valid');
  });

  it('refuses an http:// array URL', async () => {
    const path = join(tmp.path, 'http.conf');
    writeFileSync(
      path,
      [
        '[DEFAULT]',
        'site_name = boston',
        'use_simulated_cloud = True',
        '[storage]',
        'primary_array_url = http://fa-boston-01.example.com',
        'primary_array_api_token = T-aaaabbbb-cccc-dddd-eeee-ffffffffffff',
        'secondary_array_url = https://fa-seattle-01.example.com',
        'secondary_array_api_token = T-11112222-3333-4444-5555-666677778888',
        '',
      ].join('\n'),
    );
    const r = await runSiteCommand(['--config', path, '--check-config']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('primary_array_url');
    expect(r.stderr).toMatch(/https/i);
    expect(r.stderr).not.toContain('T-aaaabbbb-cccc-dddd-eeee-ffffffffffff');
  });
});

describe('protector-site start-up', () => {
  it('fails at start when the mock storage dir is missing, with the mkdir/chown advice', async () => {
    const missing = join(tmp.path, 'does-not-exist', 'mock_storage');
    const path = writeSiteConfig({
      name: 'seattle',
      dir: tmp.path,
      mockDir: missing,
      arrays: ['mock-array-b', 'mock-array-a'],
    });
    const r = await runSiteCommand(['--config', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Mock storage directory ${missing} does not exist`);
    expect(r.stderr).toContain(`sudo mkdir -p ${missing}`);
    expect(r.stderr).toContain(`sudo chown -R protector:protector ${missing}`);
    expect(r.stdout).not.toContain('ready at');
  });
});
