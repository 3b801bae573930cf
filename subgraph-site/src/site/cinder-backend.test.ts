/**
 * `[cinder] volume_host` against the site's cloud: the check `site validate` runs (a cinder-volume
 * service on host@backend, enabled and up, and the pool), on its own against a simulated cloud, and
 * through a site process: one whose simulated cloud runs the configured host, and one pointed at a cloud
 * that does not have it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSimulatedCloud, type SeededUser, type SimulatedCloud } from '@protector/cloud-sim';
import { gql, gqlOk } from '@protector/test-kit/graphql';
import { startProcess } from '@protector/test-kit/processes';
import { tempDir } from '@protector/test-kit/temp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  keystoneToken,
  SITE_BIN,
  siteTokens,
  startSiteProcess,
  writeSiteConfig,
} from '../../test-support/site-process.js';
import { createOpenStackClient } from '../openstack/index.js';
import { checkCinderBackend } from './cinder-backend.js';

let cloud: SimulatedCloud;
const tmp = tempDir('cinder-backend');

beforeAll(async () => {
  cloud = await createSimulatedCloud({ volumeHost: 'ctl-1@fa#flasharray' });
});

afterAll(async () => {
  await cloud.stop();
  tmp.cleanup();
});

const clientFor = (user: SeededUser) =>
  createOpenStackClient({
    authUrl: cloud.keystoneUrl,
    credentials: {
      type: 'password',
      username: user.name,
      password: user.password,
      projectName: user.projectName,
    },
    timeoutMs: 5000,
  });

describe('checkCinderBackend', () => {
  it('accepts the pool of a cinder-volume service that is up', async () => {
    expect(await checkCinderBackend(clientFor(cloud.seed!.service), 'ctl-1@fa#flasharray')).toEqual({
      host: 'ctl-1@fa#flasharray',
      service: 'ctl-1@fa',
      valid: true,
      error: null,
    });
  });

  it('names the option, what the cloud has and how to find the right value', async () => {
    const service = clientFor(cloud.seed!.service);
    const noService = await checkCinderBackend(service, 'cinder@pure#pure');
    expect(noService).toMatchObject({ host: 'cinder@pure#pure', service: null, valid: false });
    expect(noService.error).toMatchObject({ code: 'CONFIG_INVALID', retryable: false });
    expect(String((noService.error as { message: string }).message)).toBe(
      "[cinder] volume_host = 'cinder@pure#pure': the cloud has no cinder-volume service 'cinder@pure' (it has: ctl-1@fa, ctl-1@lvm), so Cinder would refuse to manage recovered volumes (\"Host 'cinder@pure#pure' not found\"). List the cloud's pools as an admin with `cinder get-pools` (GET /v3/{project_id}/scheduler-stats/get_pools) and the volume services with `openstack volume service list --service cinder-volume`, then set [cinder] volume_host in protector.conf to the FlashArray backend's pool (host@backend#pool) and restart protector-site.",
    );
    const noPool = await checkCinderBackend(service, 'ctl-1@fa#pure');
    expect(noPool).toMatchObject({ service: 'ctl-1@fa', valid: false });
    expect(String((noPool.error as { message: string }).message)).toContain(
      "[cinder] volume_host = 'ctl-1@fa#pure': Cinder's volume service 'ctl-1@fa' has no pool 'pure' (its pools: ctl-1@fa#flasharray), so recovered volumes would end in error_managing.",
    );
  });

  it('says the service user needs the admin role when Cinder refuses it the admin-only APIs', async () => {
    const check = await checkCinderBackend(clientFor(cloud.seed!.tenant), 'ctl-1@fa#flasharray');
    expect(check).toMatchObject({ valid: false, error: { code: 'FORBIDDEN' } });
    expect(String((check.error as { message: string }).message)).toContain(
      'Give the service user ([keystone_authtoken] username) the admin role in its project ([keystone_authtoken] project_name).',
    );
  });
});

const QUERY = '{ boston { cinderBackend { host service valid error { code message } } } }';

describe('a site reports its Cinder backend (admin only)', () => {
  it('runs the configured host in its simulated cloud', async () => {
    mkdirSync(join(tmp.path, 'sim', 'mock'), { recursive: true });
    const configPath = writeSiteConfig({
      name: 'boston',
      dir: join(tmp.path, 'sim'),
      mockDir: join(tmp.path, 'sim', 'mock'),
      arrays: ['mock-array-a', 'mock-array-b'],
      extra: { cinder: ['volume_host = ctl-9@fa#flasharray'] },
    });
    const site = await startSiteProcess(configPath);
    try {
      const tokens = await siteTokens(site.keystoneUrl);
      const data = await gqlOk<{ boston: { cinderBackend: unknown } }>(site.url, tokens.admin, QUERY);
      expect(data.boston.cinderBackend).toEqual({
        host: 'ctl-9@fa#flasharray',
        service: 'ctl-9@fa',
        valid: true,
        error: null,
      });
    } finally {
      await site.stop();
    }
  }, 60_000);

  it('reports a host its cloud does not have, naming [cinder] volume_host', async () => {
    mkdirSync(join(tmp.path, 'real', 'mock'), { recursive: true });
    const configPath = writeSiteConfig({
      name: 'boston',
      dir: join(tmp.path, 'real'),
      mockDir: join(tmp.path, 'real', 'mock'),
      arrays: ['mock-array-a', 'mock-array-b'],
      extra: {
        keystone_authtoken: [
          `auth_url = ${cloud.keystoneUrl}`,
          'username = protector',
          'password = protector',
          'project_name = service',
          'interface = public',
        ],
        cinder: ['volume_host = cinder@pure#pure'],
      },
    });
    // A site on a cloud of its own (here another simulator), not the one it would start.
    writeFileSync(
      configPath,
      readFileSync(configPath, 'utf8').replace('use_simulated_cloud = True', 'use_simulated_cloud = False'),
    );
    const site = await startProcess({
      command: process.execPath,
      args: [SITE_BIN, '--config', configPath],
      name: 'protector-site',
      ready: /protector-site (\S+) ready at (\S+)/,
      timeoutMs: 30_000,
    });
    try {
      const admin = await keystoneToken(cloud.keystoneUrl, 'admin', 'admin', 'admin');
      const data = await gqlOk<{ boston: { cinderBackend: { valid: boolean; error: { message: string } } } }>(
        site.ready[2]!,
        admin.token,
        QUERY,
      );
      expect(data.boston.cinderBackend).toMatchObject({
        host: 'cinder@pure#pure',
        service: null,
        valid: false,
      });
      expect(data.boston.cinderBackend.error.message).toContain(
        "[cinder] volume_host = 'cinder@pure#pure': the cloud has no cinder-volume service 'cinder@pure' (it has: ctl-1@fa, ctl-1@lvm)",
      );
      const tenant = await keystoneToken(cloud.keystoneUrl, 'demo', 'demo', 'demo');
      const refused = await gql(site.ready[2]!, tenant.token, QUERY);
      expect(refused.errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    } finally {
      await site.stop(5000);
    }
  }, 60_000);
});
