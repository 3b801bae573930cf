/**
 * fa-sim against the REST 2.26 description (`rest-2.26.json`, written from the models of Pure's
 * official Python client): every route the description lists is called over HTTPS, every answer is
 * checked field by field (an unknown field is a failure), lists are paged with `limit` and
 * `continuation_token`, and replication progress reads the same on the source and the target.
 * The store also checks every answer it gives (in every test of the repository), so the simulator
 * cannot drift from the description, and the driver cannot read a field a real array lacks.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@protector/platform';
import type { Json } from '@protector/schema';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startFlashArraySimulator } from '../fa-sim/server.js';
import { conformanceProblems, REST_2_26 } from './conformance.js';

describe('the REST 2.26 description', () => {
  it('accepts an item with known fields and refuses an unknown field, a wrong type and a bad envelope', () => {
    const snapshot = {
      id: 'x',
      name: 'pg.1',
      created: 1,
      destroyed: false,
      pod: null,
      source: { id: 'a/pg', name: 'pg' },
      suffix: '1',
      time_remaining: null,
    };
    const list = (items: Json[]) => ({
      items,
      continuation_token: null,
      more_items_remaining: false,
      total_item_count: null,
    });
    expect(conformanceProblems('GET', '/protection-group-snapshots', 200, list([snapshot]))).toEqual([]);
    expect(
      conformanceProblems('GET', '/protection-group-snapshots', 200, list([{ ...snapshot, progress: 1 }])),
    ).toEqual([
      'GET /protection-group-snapshots (200).items[0].progress: not a field of ProtectionGroupSnapshot in REST 2.26',
    ]);
    expect(
      conformanceProblems('GET', '/protection-group-snapshots', 200, list([{ ...snapshot, created: 1.5 }])),
    ).toEqual(['GET /protection-group-snapshots (200).items[0].created: expected an integer, got 1.5']);
    expect(conformanceProblems('GET', '/array-connections', 200, list([{ remote: { name: 'b' } }]))).toEqual([
      'GET /array-connections (200).items[0].remote: not a field of ArrayConnection in REST 2.26',
    ]);
    expect(conformanceProblems('POST', '/volumes', 200, { items: [], extra: 1 })).toEqual([
      'POST /volumes (200): expected exactly {items}',
    ]);
    expect(conformanceProblems('GET', '/pods/members', 200, list([]))).toEqual([
      'GET /pods/members (200): not a REST 2.26 route this description covers',
    ]);
    expect(conformanceProblems('GET', '/volumes', 400, { errors: [{ message: 'm', context: 'c' }] })).toEqual(
      [],
    );
    expect(conformanceProblems('GET', '/volumes', 400, { error: 'm' })).toHaveLength(1);
  });
});

describe('fa-sim speaks REST 2.26', () => {
  const clock = new ManualClock();
  let dir: string;
  let sim: RunningSimulator;
  let agent: Agent;
  const sessions: Record<string, string> = {};
  /** Every `METHOD /path` answered 2xx, to prove the walk covers the description. */
  const covered = new Set<string>();
  const problems: string[] = [];

  const url = (array: string) => sim.arrays.find((a) => a.name === array)!.url;

  async function raw(array: string, method: string, path: string, headers: Record<string, string>) {
    const res = await request(`${url(array)}${path}`, {
      method: method as 'GET',
      dispatcher: agent,
      headers,
    });
    return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Json };
  }

  /** A REST call on `array`; checks the answer against the description and records the route. */
  async function call(
    array: string,
    method: string,
    path: string,
    query: Record<string, string> = {},
    body?: Json,
  ): Promise<{ status: number; body: Json }> {
    const qs = new URLSearchParams(query).toString();
    const res = await request(`${url(array)}/api/2.26${path}${qs ? `?${qs}` : ''}`, {
      method: method as 'GET',
      dispatcher: agent,
      headers: {
        'x-auth-token': sessions[array]!,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const answer = { status: res.statusCode, body: (await res.body.json()) as Json };
    problems.push(...conformanceProblems(method, path, answer.status, answer.body));
    if (answer.status < 300) covered.add(`${method} ${path}`);
    return answer;
  }

  /** Every item of a GET, one page of `limit` at a time. */
  async function paged(array: string, path: string, query: Record<string, string>, limit: number) {
    const items: Json[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const page = await call(array, 'GET', path, {
        ...query,
        limit: String(limit),
        ...(token ? { continuation_token: token } : {}),
      });
      expect(page.status).toBe(200);
      expect((page.body.items as Json[]).length).toBeLessThanOrEqual(limit);
      items.push(...(page.body.items as Json[]));
      token = page.body.continuation_token as string | null;
      expect(page.body.more_items_remaining).toBe(token !== null);
      pages++;
    } while (token);
    return { items, pages };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protector-rest226-'));
    sim = await startFlashArraySimulator({
      dataDir: dir,
      arrays: [
        { name: 'fa-a', port: 0 },
        { name: 'fa-b', port: 0 },
      ],
      apiToken: 'T-conf',
      transferMs: 1000,
      tickMs: 60_000,
      clock,
    });
    agent = new Agent({ connect: { ca: readFileSync(sim.certFile!) } });
    for (const array of ['fa-a', 'fa-b']) {
      const versions = await raw(array, 'GET', '/api/api_version', {});
      problems.push(...conformanceProblems('GET', '/api_version', versions.status, versions.body));
      expect(versions.body.version).toContain('2.26');
      const login = await raw(array, 'POST', '/api/2.26/login', { 'api-token': 'T-conf' });
      problems.push(...conformanceProblems('POST', '/login', login.status, login.body));
      covered.add('GET /api_version').add('POST /login');
      sessions[array] = String(login.headers['x-auth-token']);
    }
  });

  afterAll(async () => {
    await agent?.close();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every route of the description with its fields only, and pages every list', async () => {
    const ok = async (
      array: string,
      method: string,
      path: string,
      query: Record<string, string>,
      body?: Json,
    ) => {
      const res = await call(array, method, path, query, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(res.body)}`).toBe(200);
      return res.body;
    };
    await ok('fa-a', 'GET', '/arrays', {});
    await ok('fa-a', 'GET', '/array-connections', {});
    for (const v of ['web-1', 'web-2', 'web-3'])
      await ok('fa-a', 'POST', '/volumes', { names: v }, { provisioned: 1048576 });
    await ok('fa-a', 'PATCH', '/volumes', { names: 'web-3' }, { provisioned: 2097152 });
    await ok('fa-a', 'POST', '/protection-groups', { names: 'pg-web' });
    await ok(
      'fa-a',
      'PATCH',
      '/protection-groups',
      { names: 'pg-web' },
      { replication_schedule: { enabled: false, frequency: 3600000 } },
    );
    await ok('fa-a', 'POST', '/protection-groups/volumes', {
      group_names: 'pg-web',
      member_names: 'web-1,web-2,web-3',
    });
    await ok('fa-a', 'POST', '/protection-groups/targets', { group_names: 'pg-web', member_names: 'fa-b' });
    await ok(
      'fa-b',
      'PATCH',
      '/protection-groups/targets',
      { group_names: 'fa-a:pg-web' },
      { allowed: true },
    );
    for (const suffix of ['s1', 's2', 's3']) {
      await ok(
        'fa-a',
        'POST',
        '/protection-group-snapshots',
        { source_names: 'pg-web', replicate_now: 'true' },
        { suffix },
      );
      await clock.advance(1500);
    }
    await ok('fa-a', 'POST', '/volume-snapshots', { source_names: 'web-1' }, { suffix: 'manual' });
    await ok('fa-b', 'POST', '/volumes', { names: 'copy-1' }, { source: { name: 'fa-a:pg-web.s3.web-1' } });
    await ok('fa-a', 'POST', '/pods', { names: 'pod-db' });
    await ok('fa-a', 'POST', '/volumes', { names: 'pod-db::db-1' }, { provisioned: 1048576 });
    await ok('fa-a', 'POST', '/pods/arrays', { group_names: 'pod-db', member_names: 'fa-b' });
    await ok('fa-a', 'PATCH', '/pods', { names: 'pod-db' }, { requested_promotion_state: 'promoted' });

    // Every list, whole and in pages of one: the same items in the same order.
    const lists: [string, string, Record<string, string>][] = [
      ['fa-a', '/volumes', { sort: 'name' }],
      ['fa-b', '/volumes', { sort: 'name' }],
      ['fa-a', '/volume-snapshots', { sort: 'name' }],
      ['fa-b', '/volume-snapshots', { sort: 'name' }],
      ['fa-a', '/protection-groups', {}],
      ['fa-b', '/protection-groups', {}],
      ['fa-a', '/protection-groups/volumes', { group_names: 'pg-web' }],
      ['fa-a', '/protection-groups/targets', {}],
      ['fa-b', '/protection-groups/targets', {}],
      ['fa-a', '/protection-group-snapshots', { source_names: 'pg-web' }],
      ['fa-b', '/protection-group-snapshots', { source_names: 'fa-a:pg-web' }],
      ['fa-a', '/protection-group-snapshots/transfer', { names: 'pg-web' }],
      ['fa-b', '/protection-group-snapshots/transfer', { names: 'fa-a:pg-web' }],
      ['fa-a', '/pods', {}],
      ['fa-b', '/pods', {}],
      ['fa-a', '/pods/arrays', { group_names: 'pod-db' }],
      ['fa-a', '/arrays', {}],
      ['fa-a', '/array-connections', {}],
    ];
    for (const [array, path, query] of lists) {
      const whole = (await ok(array, 'GET', path, query)).items as Json[];
      const { items, pages } = await paged(array, path, query, 1);
      expect(items, `${array} ${path}`).toEqual(whole);
      expect(pages, `${array} ${path}`).toBe(Math.max(1, whole.length));
    }
    const counted = await ok('fa-a', 'GET', '/volumes', { total_item_count: 'true', limit: '0' });
    expect(counted).toMatchObject({ items: [], total_item_count: 4 });

    // Teardown routes: destroy, then eradicate.
    await ok(
      'fa-b',
      'PATCH',
      '/protection-group-snapshots',
      { names: 'fa-a:pg-web.s1' },
      { destroyed: true },
    );
    await ok('fa-b', 'DELETE', '/protection-group-snapshots', { names: 'fa-a:pg-web.s1' });
    await ok('fa-a', 'DELETE', '/protection-groups/volumes', {
      group_names: 'pg-web',
      member_names: 'web-3',
    });
    await ok('fa-a', 'DELETE', '/protection-groups/targets', { group_names: 'pg-web', member_names: 'fa-b' });
    await ok('fa-a', 'PATCH', '/protection-groups', { names: 'pg-web' }, { destroyed: true });
    await ok('fa-a', 'DELETE', '/protection-groups', { names: 'pg-web' });
    await ok('fa-a', 'DELETE', '/pods/arrays', { group_names: 'pod-db', member_names: 'fa-b' });
    await ok('fa-a', 'PATCH', '/volumes', { names: 'pod-db::db-1' }, { pod: null });
    await ok('fa-a', 'PATCH', '/pods', { names: 'pod-db' }, { destroyed: true });
    await ok('fa-a', 'DELETE', '/pods', { names: 'pod-db' });
    await ok('fa-a', 'PATCH', '/volumes', { names: 'web-3' }, { destroyed: true });
    await ok('fa-a', 'DELETE', '/volumes', { names: 'web-3' });
    // Errors carry the error envelope, and the bad requests change nothing.
    const missing = await call('fa-a', 'GET', '/volumes', { names: 'nope' });
    expect(missing).toEqual({
      status: 400,
      body: { errors: [{ message: "Volume 'nope' does not exist.", context: 'nope' }] },
    });
    expect((await call('fa-a', 'GET', '/volumes', { limit: '-1' })).status).toBe(400);

    const routes = Object.keys(REST_2_26.routes);
    const skipped = routes.filter((r) => !covered.has(r));
    // fa-sim does not destroy single volume snapshots or log out over this walk; every other route ran.
    expect(skipped.sort()).toEqual(['DELETE /volume-snapshots', 'PATCH /volume-snapshots', 'POST /logout']);
    expect(problems).toEqual([]);
  });

  it('reports replication progress only at /transfer, the same on the source and the target', async () => {
    const ok = async (
      array: string,
      method: string,
      path: string,
      query: Record<string, string>,
      body?: Json,
    ) => {
      const res = await call(array, method, path, query, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(res.body)}`).toBe(200);
      return res.body.items as Json[];
    };
    await ok('fa-a', 'POST', '/volumes', { names: 'log-1' }, { provisioned: 1048576 });
    await ok('fa-a', 'POST', '/protection-groups', { names: 'pg-log' });
    await ok('fa-a', 'POST', '/protection-groups/volumes', { group_names: 'pg-log', member_names: 'log-1' });
    await ok('fa-a', 'POST', '/protection-groups/targets', { group_names: 'pg-log', member_names: 'fa-b' });
    await ok(
      'fa-b',
      'PATCH',
      '/protection-groups/targets',
      { group_names: 'fa-a:pg-log' },
      { allowed: true },
    );
    await ok(
      'fa-a',
      'POST',
      '/protection-group-snapshots',
      { source_names: 'pg-log', replicate_now: 'true' },
      { suffix: 'r1' },
    );
    await clock.advance(400);
    const [onSource] = await ok('fa-a', 'GET', '/protection-group-snapshots/transfer', {
      names: 'pg-log.r1',
    });
    const [onTarget] = await ok('fa-b', 'GET', '/protection-group-snapshots/transfer', {
      names: 'fa-a:pg-log.r1',
    });
    expect(onSource).toMatchObject({ completed: null, progress: 0.4 });
    expect(onTarget).toMatchObject({ completed: null, progress: 0.4, started: onSource!.started });
    // Neither side calls it done while the target refuses to copy it.
    const early = await call(
      'fa-b',
      'POST',
      '/volumes',
      { names: 'early' },
      { source: { name: 'fa-a:pg-log.r1.log-1' } },
    );
    expect(early.status).toBe(400);
    expect(JSON.stringify(early.body)).toMatch(/not fully replicated/);
    // Cinder's Pure driver asks the target for the latest complete point this way.
    const complete = { names: 'fa-a:pg-log', destroyed: 'false', filter: 'progress="1.0"', sort: 'started-' };
    expect(await ok('fa-b', 'GET', '/protection-group-snapshots/transfer', complete)).toEqual([]);
    await clock.advance(700);
    const [doneSource] = await ok('fa-a', 'GET', '/protection-group-snapshots/transfer', {
      names: 'pg-log.r1',
    });
    const [doneTarget] = await ok('fa-b', 'GET', '/protection-group-snapshots/transfer', {
      names: 'fa-a:pg-log.r1',
    });
    expect(doneSource).toMatchObject({
      progress: 1,
      completed: doneTarget!.completed,
      data_transferred: 1048576,
    });
    expect(doneTarget!.completed).toEqual(expect.any(Number));
    expect(
      (await ok('fa-b', 'GET', '/protection-group-snapshots/transfer', complete)).map((t) => t.name),
    ).toEqual(['fa-a:pg-log.r1']);
    const [copy] = await ok(
      'fa-b',
      'POST',
      '/volumes',
      { names: 'late' },
      { source: { name: 'fa-a:pg-log.r1.log-1' } },
    );
    // An array names a copy's source volume, not the snapshot it was copied from.
    expect((copy!.source as Json).name).toBe('fa-a:log-1');
    // A snapshot that was never replicated has no transfer.
    await ok('fa-a', 'POST', '/protection-group-snapshots', { source_names: 'pg-log' }, { suffix: 'local' });
    const [local] = await ok('fa-a', 'GET', '/protection-group-snapshots/transfer', {
      names: 'pg-log.local',
    });
    expect(local).toMatchObject({ started: null, completed: null, progress: null });
    expect(problems).toEqual([]);
  });
});
