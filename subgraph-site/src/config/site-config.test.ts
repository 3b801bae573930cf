import { isProtectorError } from '@protector/schema';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  loadSiteConfig,
  parseDatabaseConnection,
  redactSiteConfig,
  renderSiteConfigReference,
  type SiteConfig,
} from './index.js';

const TOKEN_A = 'T-aaaabbbb-cccc-dddd-eeee-ffffffffffff';
const TOKEN_B = 'T-11112222-3333-4444-5555-666677778888';
const KEYSTONE_PASSWORD = 'ks-pa55-w0rd';

/** The product documentation's Example 1 (Site A), plus what a site needs besides storage. */
const EXAMPLE_1 = `# /etc/protector/protector.conf (Site A)
[DEFAULT]
debug = False
log_dir = /var/log/protector
state_path = /var/lib/protector
site_name = boston

[storage]
primary_array_url = https://fa-boston-01.example.com
primary_array_api_token = ${TOKEN_A}
secondary_array_url = https://fa-seattle-01.example.com
secondary_array_api_token = ${TOKEN_B}
default_replication_interval = 300
default_rpo_minutes = 15

[keystone_authtoken]
auth_url = https://keystone.boston.example.com:5000/v3
username = protector
password = ${KEYSTONE_PASSWORD}
project_name = service
`;

/** The product documentation's Example 2: the Mock driver and the simulated cloud, no [storage] at all. */
const EXAMPLE_2 = `[DEFAULT]
debug = True
log_dir = /var/log/protector
state_path = /var/lib/protector
use_mock_storage = True
use_simulated_cloud = True
site_name = site_a
`;

const SEED_FIX =
  'add a complete [storage] block with valid primary_array_url, primary_array_api_token, secondary_array_url and secondary_array_api_token values, or set use_mock_storage = True in [DEFAULT] for non-production environments';

function failure(fn: () => unknown): { message: string; problems: { kind: string; message: string }[] } {
  try {
    fn();
  } catch (err) {
    if (isProtectorError(err, 'CONFIG_INVALID')) {
      return {
        message: err.message,
        problems: err.details['problems'] as { kind: string; message: string }[],
      };
    }
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('protector.conf', () => {
  it("compiles the product documentation's production example with every default", () => {
    const config = loadSiteConfig({ text: EXAMPLE_1, env: {} });
    expect(config.DEFAULT).toEqual({
      site_name: 'boston',
      debug: false,
      log_dir: '/var/log/protector',
      state_path: '/var/lib/protector',
      use_mock_storage: false,
      mock_storage_dir: '/var/lib/protector/mock_storage',
      mock_arrays: ['mock-array-a', 'mock-array-b'],
      mock_transfer_ms: 2000,
      recovery_concurrency: 8,
      replication_monitor_interval: 10,
      use_simulated_cloud: false,
    });
    expect(config.storage).toEqual({
      primary_array_url: 'https://fa-boston-01.example.com',
      primary_array_api_token: TOKEN_A,
      secondary_array_url: 'https://fa-seattle-01.example.com',
      secondary_array_api_token: TOKEN_B,
      local_array: 'primary',
      default_replication_interval: 300,
      default_rpo_minutes: 15,
      ca_bundle: undefined,
      verify_tls: true,
      concurrency: 16,
      request_timeout: 30,
    });
    expect(config.database).toEqual({
      connection: 'sqlite:////var/lib/protector/protector-site.sqlite',
      encryption_key: undefined,
      encryption_key_file: '/var/lib/protector/secret.key',
    });
    expect(config.keystone_authtoken.token_cache_time).toBe(300);
    expect(config.keystone_authtoken.interface).toBe('internal');
    expect(config.openstack).toEqual({
      sim_host: '127.0.0.1',
      sim_port: 0,
      sim_latency_ms: 0,
      sim_boot_seconds: 2,
      sim_data_file: '/var/lib/protector/cloud-sim.sqlite',
    });
    expect(config.api).toEqual({
      introspection: 'authenticated',
      max_query_aliases: 30,
      max_query_cost: 1000000,
      max_query_depth: 15,
      max_query_directives: 20,
      max_query_tokens: 5000,
      rate_limit: 100,
      rate_limit_burst: 200,
      max_in_flight: 256,
      metrics_token: undefined,
      bind_host: '0.0.0.0',
      bind_port: 8788,
      public_url: undefined,
    });
    expect(parseDatabaseConnection(config.database.connection)).toEqual({
      kind: 'sqlite',
      path: '/var/lib/protector/protector-site.sqlite',
    });
    expectTypeOf(config.DEFAULT.site_name).toEqualTypeOf<string>();
    expectTypeOf(config.storage.primary_array_url).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.api.bind_port).toEqualTypeOf<number>();
    expectTypeOf(config.keystone_authtoken.interface).toEqualTypeOf<'public' | 'internal' | 'admin'>();
    expectTypeOf(config).toEqualTypeOf<SiteConfig>();
  });

  it('derives paths from state_path', () => {
    const text = EXAMPLE_2.replace('state_path = /var/lib/protector', 'state_path = /srv/protector/');
    const config = loadSiteConfig({ text, env: {} });
    expect(config.DEFAULT.mock_storage_dir).toBe('/srv/protector/mock_storage');
    expect(config.database.connection).toBe('sqlite:////srv/protector/protector-site.sqlite');
    expect(config.database.encryption_key_file).toBe('/srv/protector/secret.key');
  });

  it("fails like the product documentation's '[storage] options missing', naming every missing key and both fixes", () => {
    const text = EXAMPLE_1.replace(/\[storage\][\s\S]*?(?=\[keystone_authtoken\])/, '');
    const { message, problems } = failure(() => loadSiteConfig({ text, env: {} }));
    expect(problems).toHaveLength(1);
    expect(message).toContain('[storage] options missing');
    for (const key of [
      'primary_array_url',
      'primary_array_api_token',
      'secondary_array_url',
      'secondary_array_api_token',
    ]) {
      expect(problems[0]?.message).toContain(key);
    }
    expect(message).toContain(SEED_FIX);
    expect(message).toContain('use_mock_storage is False');
  });

  it('names only the keys that are missing from an incomplete [storage]', () => {
    const text = EXAMPLE_1.replace(/^secondary_array.*$/gm, '');
    const { problems } = failure(() => loadSiteConfig({ text, env: {} }));
    expect(problems.map((p) => p.message)).toEqual([
      '[storage] options missing: secondary_array_url, secondary_array_api_token are not set and use_mock_storage is False, so the Pure FlashArray driver cannot initialize.',
    ]);
  });

  it('ignores [storage] array credentials entirely when use_mock_storage = True', () => {
    const text = `${EXAMPLE_2}\n[storage]\nprimary_array_url = http://not-even-https\nprimary_array_api_token = x\n`;
    const config = loadSiteConfig({ text, env: {} });
    expect(config.DEFAULT.use_mock_storage).toBe(true);
    expect(config.storage.primary_array_url).toBeUndefined();
    expect(config.storage.primary_array_api_token).toBeUndefined();
    expect(config.storage.default_rpo_minutes).toBe(15);
    expect(config.keystone_authtoken.auth_url).toBeUndefined();
  });

  it('refuses an http:// array URL: HTTPS required, with the fix', () => {
    const text = EXAMPLE_1.replace('https://fa-seattle-01', 'http://fa-seattle-01');
    const { message, problems } = failure(() =>
      loadSiteConfig({ path: '/etc/protector/protector.conf', text, env: {} }),
    );
    expect(problems).toHaveLength(1);
    expect(message).toContain(
      "[storage] secondary_array_url = 'http://fa-seattle-01.example.com' (/etc/protector/protector.conf:11) is refused: HTTPS required",
    );
    expect(message).toContain(
      "Fix: Set secondary_array_url in [storage] of protector.conf to an https:// URL (did you mean 'https://fa-seattle-01.example.com'?).",
    );
  });

  it('lets PROTECTOR_<SECTION>__<NAME> variables override the file', () => {
    const config = loadSiteConfig({
      text: EXAMPLE_2,
      env: {
        PROTECTOR_DEFAULT__SITE_NAME: 'seattle',
        PROTECTOR_API__BIND_PORT: '0',
        PROTECTOR_DEFAULT__USE_MOCK_STORAGE: 'no',
        PROTECTOR_STORAGE__PRIMARY_ARRAY_URL: 'https://fa-a.example.com',
        PROTECTOR_STORAGE__PRIMARY_ARRAY_API_TOKEN: TOKEN_A,
        PROTECTOR_STORAGE__SECONDARY_ARRAY_URL: 'https://fa-b.example.com',
        PROTECTOR_STORAGE__SECONDARY_ARRAY_API_TOKEN: TOKEN_B,
        PROTECTOR_DATABASE__CONNECTION: 'postgresql://protector:db-pw@db.example.com:5432/protector',
      },
    });
    expect(config.DEFAULT.site_name).toBe('seattle');
    expect(config.DEFAULT.use_mock_storage).toBe(false);
    expect(config.api.bind_port).toBe(0);
    expect(config.storage.primary_array_api_token).toBe(TOKEN_A);
    expect(parseDatabaseConnection(config.database.connection)).toEqual({
      kind: 'postgresql',
      url: 'postgresql://protector:db-pw@db.example.com:5432/protector',
    });
  });

  it('never shows secrets: not in errors, not in the redacted config', () => {
    const config = loadSiteConfig({
      text: `${EXAMPLE_1}\n[database]\nconnection = postgresql://protector:db-pw@db/protector\nencryption_key = ${'k'.repeat(44)}\n`,
      env: {},
    });
    const logged = JSON.stringify(redactSiteConfig(config));
    for (const secret of [TOKEN_A, TOKEN_B, KEYSTONE_PASSWORD, 'db-pw', 'k'.repeat(44)]) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).toContain('"primary_array_api_token":"***"');
    expect(logged).toContain('"connection":"postgresql://protector:***@db/protector"');

    const bad = `${EXAMPLE_1}\n[database]\nconnection = mysql://protector:db-pw@db/protector\nencryption_key = short-${TOKEN_A.slice(0, 5)}\n`;
    const { message } = failure(() => loadSiteConfig({ text: bad, env: {} }));
    expect(message).toContain("[database] connection = 'mysql://protector:***@db/protector'");
    expect(message).toContain('[database] encryption_key = (value hidden)');
    expect(message).not.toContain('db-pw');
    expect(message).not.toContain(`short-${TOKEN_A.slice(0, 5)}`);
  });

  it('requires a GraphQL-safe site_name', () => {
    const missing = failure(() => loadSiteConfig({ text: EXAMPLE_2.replace(/^site_name.*$/m, ''), env: {} }));
    expect(missing.message).toContain('[DEFAULT] site_name is required but not set.');
    expect(missing.message).toContain('PROTECTOR_DEFAULT__SITE_NAME');
    const bad = failure(() => loadSiteConfig({ text: EXAMPLE_2.replace('site_a', 'Site-A'), env: {} }));
    expect(bad.message).toContain(
      "[DEFAULT] site_name = 'Site-A' (protector.conf:7) is not a lower-case letter followed by up to 30 lower-case letters, digits or underscores.",
    );
  });

  it('suggests the right name for a misspelt option and a misplaced one', () => {
    const text = `${EXAMPLE_1.replace('default_rpo_minutes', 'default_rpo_minuets')}\n[storage]\nuse_mock_storage = True\n`;
    const { problems } = failure(() => loadSiteConfig({ text, env: {} }));
    expect(problems.map((p) => p.message)).toEqual([
      "Unknown option 'default_rpo_minuets' in [storage] (protector.conf:14).",
      "Unknown option 'use_mock_storage' in [storage] (protector.conf:23).",
    ]);
    const { message } = failure(() => loadSiteConfig({ text, env: {} }));
    expect(message).toContain('Did you mean default_rpo_minutes?');
    expect(message).toContain('use_mock_storage belongs in [DEFAULT]');
  });

  it('requires the Keystone service user unless the cloud is simulated', () => {
    const text = EXAMPLE_1.replace(/\[keystone_authtoken\][\s\S]*$/, '');
    const { problems } = failure(() => loadSiteConfig({ text, env: {} }));
    expect(problems.map((p) => p.message)).toEqual([
      '[keystone_authtoken] options missing: auth_url, username, password, project_name are not set and use_simulated_cloud is False, so the site cannot reach its cloud.',
    ]);
  });

  it('refuses the same array as primary and secondary', () => {
    const text = EXAMPLE_1.replace('fa-seattle-01', 'fa-boston-01');
    const { problems } = failure(() => loadSiteConfig({ text, env: {} }));
    expect(problems.map((p) => p.message)).toEqual([
      '[storage] primary_array_url and secondary_array_url both point at fa-boston-01.example.com.',
    ]);
  });

  it('takes the Cinder host that manages array volumes, and refuses one that is not host@backend#pool', () => {
    expect(loadSiteConfig({ text: EXAMPLE_1, env: {} }).cinder.volume_host).toBe('cinder@pure#pure');
    const set = `${EXAMPLE_1}\n[cinder]\nvolume_host = ctl-1.example.com@flasharray#pure-fa\n`;
    expect(loadSiteConfig({ text: set, env: {} }).cinder.volume_host).toBe(
      'ctl-1.example.com@flasharray#pure-fa',
    );
    for (const bad of ['cinder@pure', 'cinder#pure', 'cinder@pure#pure#x', 'cinder@pure#my pool']) {
      const { problems } = failure(() =>
        loadSiteConfig({ text: `${EXAMPLE_1}\n[cinder]\nvolume_host = ${bad}\n`, env: {} }),
      );
      expect(problems).toHaveLength(1);
      expect(problems[0]?.message).toContain(`[cinder] volume_host = '${bad}' (protector.conf:`);
      expect(problems[0]?.message).toContain(
        'is not a Cinder pool host of the form host@backend#pool, e.g. cinder@pure#pure.',
      );
      expect((problems[0] as { fix?: string }).fix).toContain('cinder get-pools');
    }
  });

  it('reports a bad boolean for use_mock_storage instead of guessing', () => {
    const { problems } = failure(() =>
      loadSiteConfig({
        text: EXAMPLE_2.replace('use_mock_storage = True', 'use_mock_storage = Ture'),
        env: {},
      }),
    );
    expect(problems[0]?.message).toBe(
      "[DEFAULT] use_mock_storage = 'Ture' (protector.conf:5) is not a boolean.",
    );
  });
});

describe('docs/configuration.md', () => {
  it('is the generated reference (regenerate with `npx vitest run src/config -u`)', async () => {
    const reference = renderSiteConfigReference();
    expect(reference).toContain(
      '| `primary_array_url` | URL (HTTPS only) | **required** unless `use_mock_storage = True` | `PROTECTOR_STORAGE__PRIMARY_ARRAY_URL` |',
    );
    expect(reference).toContain('| `mock_storage_dir` | path | `$state_path/mock_storage` |');
    expect(reference).toContain('| `primary_array_api_token` | string, secret | **required** unless');
    expect(reference).toContain('| `encryption_key` | string, secret | unset |');
    await expect(reference).toMatchFileSnapshot('../../../docs/configuration.md');
  });
});
