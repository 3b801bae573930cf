import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGateway, startFakeGateway } from '../testing/fake-gateway.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI as a child process (asynchronously: the fake gateway lives in this process). */
function protector(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const SEED_POLICY_CREATE = [
  'protection-group',
  'policy-create',
  'db-cluster-pg',
  '--primary-fa-url',
  'https://fa-boston-01.example.com',
  '--primary-fa-token',
  'T-aaaabbbb-cccc-dddd-eeee-ffffffffffff',
  '--secondary-fa-url',
  'https://fa-seattle-01.example.com',
  '--secondary-fa-token',
  'T-11112222-3333-4444-5555-666677778888',
  '--pure-pg-name',
  'pg-db-cluster',
  '--replication-interval',
  '120',
  '--rpo-minutes',
  '5',
];

describe('protector CLI (child process against a real GraphQL server)', () => {
  let gateway: FakeGateway;
  let env: Record<string, string>;
  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run 'npx tsc -p tsconfig.json' first`);
    gateway = await startFakeGateway();
    env = { PROTECTOR_URL: gateway.url, PROTECTOR_SITE_TOKENS: 'boston=tok-boston,seattle=tok-seattle' };
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('policy-create prints the seed table and sends the site tokens, never echoing an array token', async () => {
    const run = await protector([...SEED_POLICY_CREATE, '--debug', '--os-token', 'keystone-default'], env);
    expect(run.stderr).not.toContain('Error');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        '+----------------------+---------------+',
        '| Field                | Value         |',
        '+----------------------+---------------+',
        '| protection_group_id  | pg-0002       |',
        '| pure_pg_name         | pg-db-cluster |',
        '| replication_interval | 120           |',
        '| rpo_minutes          | 5             |',
        '| status               | active        |',
        '+----------------------+---------------+',
        '',
      ].join('\n'),
    );
    const seen = gateway.requests.at(-1);
    expect(seen?.operationName).toBe('CreateReplicationPolicy');
    expect(seen?.headers['x-site-token-boston']).toBe('tok-boston');
    expect(seen?.headers['x-site-token-seattle']).toBe('tok-seattle');
    expect(seen?.headers['authorization']).toBe('Bearer keystone-default');
    expect(seen?.variables).toMatchObject({
      input: {
        protectionGroup: 'db-cluster-pg',
        policy: {
          primaryArrayToken: 'T-aaaabbbb-cccc-dddd-eeee-ffffffffffff',
          replicationIntervalSeconds: 120,
        },
      },
    });
    // --debug echoes the request with every secret masked.
    expect(run.stderr).toContain('DEBUG POST');
    for (const secret of ['T-aaaabbbb', 'T-11112222', 'tok-boston', 'keystone-default']) {
      expect(run.stdout + run.stderr).not.toContain(secret);
    }
  });

  it('--site-token flags override PROTECTOR_SITE_TOKENS', async () => {
    const run = await protector(['site', 'list', '--site-token', 'boston=flag-token', '-f', 'json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      expect.objectContaining({ Name: 'site-a', Key: 'boston', Status: 'active' }),
      expect.objectContaining({ Name: 'site-b', Key: 'seattle' }),
    ]);
    expect(gateway.requests.at(-1)?.headers['x-site-token-boston']).toBe('flag-token');
    expect(gateway.requests.at(-1)?.headers['x-site-token-seattle']).toBe('tok-seattle');
  });

  it('failover --wait streams progress and exits 1 when the operation FAILED', async () => {
    gateway.scripts.set('prod-web-app', {
      outcome: 'FAILED',
      steps: ['stopServers', 'replicateNow', 'materializeRecoveryPoint'],
    });
    const run = await protector(['failover', 'prod-web-app', '--wait'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\[ 33%\] running\s+stopServers on site-b: succeeded/);
    expect(run.stderr).toMatch(/\[ 67%\] running\s+replicateNow on site-b: succeeded/);
    expect(run.stderr).toMatch(/failed\s+materializeRecoveryPoint on site-b: failed/);
    expect(run.stderr).toContain('Error (STORAGE_ERROR): Operation op-');
    expect(run.stdout).toMatch(/\| status\s+\| failed/);
  });

  it('test-failover --wait exits 0 when the operation succeeds', async () => {
    gateway.scripts.set('db-cluster-pg', {
      outcome: 'SUCCEEDED',
      steps: ['createTestNetwork', 'materializeRecoveryPoint'],
    });
    const run = await protector(['test-failover', 'db-cluster-pg', '--wait', '-f', 'json'], env);
    expect(run.stderr).toMatch(/\[100%\] succeeded\s+materializeRecoveryPoint/);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      type: 'test_failover',
      status: 'succeeded',
      progress: '100%',
    });
  });

  it.each([
    [
      ['failover', 'prod-web-app', '--type', 'sideways'],
      /Option --type must be one of planned, unplanned; got 'sideways'/,
    ],
    [['failover', 'prod-web-app', '--recovery-point', 'rp-1'], /--recovery-point needs --type unplanned/],
    [
      ['policy', 'create', 'prod-web-app', '--rpo-minutes', 'soon'],
      /Option --rpo-minutes must be a whole number of minutes/,
    ],
    [['policy', 'create', 'prod-web-app'], /Nothing to set: give at least one of --primary-fa-url/],
    [
      ['pg', 'create', 'x', '--replication-type', 'async'],
      /Option --primary-site is required; add e.g. --primary-site site-a/,
    ],
    [['failover'], /Missing argument <protection-group>/],
    [['site', 'list', '--site-token', 'tok-without-key'], /--site-token expects KEY=TOKEN/],
    [['site', 'list', '-f', 'yaml'], /-f\/--format must be one of table, json, value/],
    [['pg', 'list', '--frobnicate'], /Unknown option --frobnicate for 'protector protection-group list'/],
  ])('bad input %j exits 2 with a message and sends nothing', async (args, message) => {
    const before = gateway.requests.length;
    const run = await protector(args, env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(gateway.requests.length).toBe(before);
  });

  it('never echoes a secret given to a malformed option', async () => {
    const run = await protector(['site', 'list', '--site-token', 'T-sekrit-no-equals'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain('T-sekrit');
  });

  it('prints the server error code and exits 1', async () => {
    const run = await protector(['member', 'add', 'prod-web-app', 'db-01'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "Error (VOLUME_TYPE_NOT_REPLICATED): Volume type 'standard-ssd' does not support replication\n",
    );
  });

  it('adds several VMs in one addMembers call, with the boot priority of all', async () => {
    const run = await protector(
      ['member', 'add', 'prod-web-app', 'app-01', 'app-02', 'app-03', '--boot-priority', '2'],
      env,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Error \(VOLUME_TYPE_NOT_REPLICATED\)/);
    const seen = gateway.requests.at(-1);
    expect(seen?.operationName).toBe('AddMembers');
    expect(seen?.variables).toEqual({
      input: { protectionGroup: 'prod-web-app', servers: ['app-01', 'app-02', 'app-03'], bootPriority: 2 },
    });
    const help = await protector(['member', 'add', '--help'], env);
    expect(help.stdout).toContain('protector member add <protection-group> <server>... [options]');
  });

  it('lists the volume types of a site from its own root field', async () => {
    const run = await protector(['site', 'list-volume-types', 'site-a', '-f', 'value'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'vt-1 replicated-ssd True async True None\nvt-2 standard-ssd False None True local only\n',
    );
  });

  it('reports an unreachable gateway with a code', async () => {
    const run = await protector(['pg', 'list', '--url', 'http://127.0.0.1:9/graphql']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^Error \(CONNECTION_FAILED\): Cannot reach the gateway at http:\/\/127\.0\.0\.1:9\/graphql/,
    );
  });

  it.each([
    [['--help']],
    [['pg', '--help']],
    [['failover', '--help']],
    [['pg', 'policy-create', '-h']],
  ])('%j prints help and exits 0', async (args) => {
    const run = await protector(args);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: protector/);
  });
});
