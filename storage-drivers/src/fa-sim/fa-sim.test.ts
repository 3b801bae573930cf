/** fa-sim as a real FlashArray client sees it: the binary, HTTPS, REST envelopes, status codes, paging. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = new URL('../../dist/fa-sim/cli.js', import.meta.url).pathname;

describe('fa-sim binary', () => {
  let dir: string;
  let child: ChildProcess;
  let urls: Record<string, string>;
  let agent: Agent;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protector-fasim-'));
    child = spawn(
      process.execPath,
      [bin, '--data-dir', dir, '--array', 'arrayA:0', '--array', 'arrayB:0', '--api-token', 'T-sim'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    urls = {};
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`fa-sim exited ${code}`)));
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        for (const m of out.matchAll(/array (\S+) listening on (\S+)/g)) urls[m[1]!] = m[2]!;
        if (out.includes('fa-sim: ready')) resolve();
      });
    });
    agent = new Agent({ connect: { ca: readFileSync(join(dir, 'tls', 'fa-sim.crt')) } });
  });

  afterAll(async () => {
    child.kill('SIGTERM');
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (
    array: string,
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: unknown,
  ) => {
    const res = await request(`${urls[array]}${path}`, {
      method: method as 'GET',
      dispatcher: agent,
      headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: (await res.body.json()) as Record<string, unknown>,
    };
  };

  it('serves HTTPS with its own certificate, negotiates versions and sessions like an array', async () => {
    expect(urls.arrayA).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const versions = await call('arrayA', 'GET', '/api/api_version');
    expect(versions.body.version).toContain('2.26');
    const denied = await call('arrayA', 'POST', '/api/2.26/login', { 'api-token': 'wrong' });
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ errors: [{ message: 'Invalid api-token.', context: 'api-token' }] });
    const noSession = await call('arrayA', 'GET', '/api/2.26/volumes');
    expect(noSession.status).toBe(401);
    const login = await call('arrayA', 'POST', '/api/2.26/login', { 'api-token': 'T-sim' });
    expect(login.status).toBe(200);
    const session = { 'x-auth-token': String(login.headers['x-auth-token']) };

    for (let i = 0; i < 25; i++) {
      const created = await call(
        'arrayA',
        'POST',
        `/api/2.26/volumes?names=page-${String(i).padStart(2, '0')}`,
        session,
        {
          provisioned: 1048576,
        },
      );
      expect(created.status).toBe(200);
    }
    const page1 = await call(
      'arrayA',
      'GET',
      '/api/2.26/volumes?limit=10&sort=name&total_item_count=true',
      session,
    );
    expect(page1.body).toMatchObject({ total_item_count: 25, more_items_remaining: true });
    // As on an array, the total is counted only when asked for.
    const uncounted = await call('arrayA', 'GET', '/api/2.26/volumes?limit=10&sort=name', session);
    expect(uncounted.body).toMatchObject({ total_item_count: null, more_items_remaining: true });
    expect((page1.body.items as unknown[]).length).toBe(10);
    const page3 = await call(
      'arrayA',
      'GET',
      `/api/2.26/volumes?limit=10&sort=name&continuation_token=${page1.body.continuation_token}`,
      session,
    );
    expect((page3.body.items as { name: string }[])[0]!.name).toBe('page-10');

    const dup = await call('arrayA', 'POST', '/api/2.26/volumes?names=page-00', session, {
      provisioned: 1048576,
    });
    expect(dup).toMatchObject({
      status: 400,
      body: { errors: [{ message: "Volume 'page-00' already exists.", context: 'page-00' }] },
    });
    const unknown = await call('arrayA', 'GET', '/api/2.26/nonsense', session);
    expect(unknown.status).toBe(404);
    const filtered = await call(
      'arrayA',
      'GET',
      `/api/2.26/volumes?filter=${encodeURIComponent("name='page-2*'")}`,
      session,
    );
    expect((filtered.body.items as unknown[]).length).toBe(5);
    // A session belongs to the array that issued it.
    const other = await call('arrayB', 'GET', '/api/2.26/volumes', session);
    expect(other.status).toBe(401);
  });

  it('keeps sim-only data and controls on /sim/, outside the REST API, behind the API token', async () => {
    const token = { 'api-token': 'T-sim' };
    expect((await call('arrayA', 'GET', '/sim/content')).status).toBe(401);
    const login = await call('arrayA', 'POST', '/api/2.26/login', token);
    const session = { 'x-auth-token': String(login.headers['x-auth-token']) };
    await call('arrayA', 'POST', '/api/2.26/volumes?names=sim-vol', session, { provisioned: 1048576 });
    const wrote = await call('arrayA', 'POST', '/sim/writes?names=sim-vol', token);
    expect(wrote.body.items).toEqual([{ name: 'sim-vol', origin: expect.any(String), version: 1 }]);
    const held = await call('arrayA', 'GET', '/sim/content?names=sim-vol', token);
    expect(held.body.items).toEqual([
      { name: 'sim-vol', kind: 'volume', origin: expect.any(String), version: 1 },
    ]);
    // The REST resource has no content field.
    const [vol] = (await call('arrayA', 'GET', '/api/2.26/volumes?names=sim-vol', session)).body
      .items as Record<string, unknown>[];
    expect(vol).not.toHaveProperty('content');
    // An array that is down answers nothing on its REST API, and its controls bring it back.
    expect((await call('arrayA', 'PATCH', '/sim/faults', token, { down: true })).body.items).toEqual([
      { name: 'arrayA', down: true, rate_limit: 0, slow_factor: 1 },
    ]);
    await expect(call('arrayA', 'GET', '/api/api_version')).rejects.toThrow();
    await call('arrayA', 'PATCH', '/sim/faults', token, { down: false });
    expect((await call('arrayA', 'GET', '/api/api_version')).status).toBe(200);
    const bad = await call('arrayA', 'PATCH', '/sim/faults', token, { slow_factor: 0 });
    expect(bad).toMatchObject({
      status: 400,
      body: { errors: [{ message: 'slow_factor must be a number, 1 or more.' }] },
    });
    const link = await call('arrayA', 'PATCH', '/sim/links?names=arrayB', token, { status: 'disconnected' });
    expect(link.body.items).toEqual([{ name: 'arrayB', status: 'disconnected' }]);
    await call('arrayA', 'PATCH', '/sim/links?names=arrayB', token, { status: 'connected' });
    expect((await call('arrayA', 'GET', '/sim/clock', token)).body.now).toEqual(expect.any(Number));
    expect((await call('arrayA', 'GET', '/sim/nonsense', token)).status).toBe(404);
  });

  it('a pure driver that does not trust its certificate reports it naming ca_bundle, not a stack trace', async () => {
    const { PureStorageDriver } = await import('../pure.js');
    const driver = new PureStorageDriver({
      primaryArrayUrl: urls.arrayA!,
      primaryArrayApiToken: 'T-sim',
      secondaryArrayUrl: urls.arrayB!,
      secondaryArrayApiToken: 'T-sim',
      retry: { maxRetries: 0 },
      timeoutMs: 5000,
      log: () => {},
    });
    try {
      // The site still starts: both arrays are unavailable, and why, until the CA is configured.
      await driver.initialize();
      expect(driver.arrays().map((a) => a.available)).toEqual([false, false]);
      const v = await driver.validate();
      expect(v.ok).toBe(false);
      expect(v.arrays[0]!.error).toMatch(/certificate is not trusted .*set \[storage\] ca_bundle/);
      await expect(driver.getVolumes('unidentified-primary-array', ['x'])).rejects.toMatchObject({
        code: 'STORAGE_UNREACHABLE',
        message: expect.stringMatching(/certificate is not trusted .*set \[storage\] ca_bundle/),
      });
    } finally {
      await driver.close();
    }
  });
});
