import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey } from '@protector/platform/db';
import { ProtectorError } from '@protector/schema';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSiteDataSource } from './data-source.js';
import { createSiteRepository, type SiteRepository } from './repository.js';
import type { StepAttempt } from './types.js';

const OP = 'op-7f3c';

/** A promise with its resolve exposed, to wait for events instead of sleeping. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('runStepOnce', () => {
  let dir: string;
  let url: string;
  const key = generateSecretKey();
  const opened: DataSource[] = [];
  const openRepo = async (): Promise<[SiteRepository, DataSource]> => {
    const ds = await createSiteDataSource({ url });
    opened.push(ds);
    return [createSiteRepository(ds, { secretKey: key }), ds];
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'protector-steps-'));
    url = `sqlite://${join(dir, 'site.sqlite')}`;
  });
  afterEach(async () => {
    for (const ds of opened.splice(0)) if (ds.isInitialized) await ds.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a step once and returns the stored result on every later call, across restarts', async () => {
    const [repo, ds] = await openRepo();
    const fn = vi.fn(async () => ({ volumeId: 'vol-1', createdAt: new Date('2025-01-01T00:00:00Z') }));
    const first = await repo.runStepOnce(
      OP,
      'materialize:web-1',
      'Materialize volumes',
      { member: 'web-1' },
      fn,
    );
    // the first run returns what a replay returns: JSON data
    expect(first).toEqual({ volumeId: 'vol-1', createdAt: '2025-01-01T00:00:00.000Z' });
    expect(await repo.runStepOnce(OP, 'materialize:web-1', 'Materialize volumes', {}, fn)).toEqual(first);
    await ds.destroy();

    const [restarted] = await openRepo();
    expect(await restarted.runStepOnce(OP, 'materialize:web-1', 'Materialize volumes', {}, fn)).toEqual(
      first,
    );
    expect(fn).toHaveBeenCalledTimes(1);
    expect(await restarted.getStepAudit(OP, 'materialize:web-1')).toMatchObject({
      status: 'succeeded',
      attempt: 1,
      name: 'Materialize volumes',
      request: { member: 'web-1' },
      finishedAt: expect.any(Date),
    });
  });

  it('re-runs a step whose earlier attempt crashed while running', async () => {
    const [repo, ds] = await openRepo();
    const started = deferred();
    void repo.runStepOnce(OP, 'boot:web-1', 'Boot VM', {}, async (attempt) => {
      // It notes a choice before acting on it, then the process "dies" before the step finishes.
      await attempt.note({ recoveryPoint: 'fa-a:pg-web.7' });
      started.resolve();
      return new Promise<never>(() => {});
    });
    await started.promise;
    await ds.destroy();

    const [restarted] = await openRepo();
    expect(await restarted.getStepAudit(OP, 'boot:web-1')).toMatchObject({ status: 'running', attempt: 1 });
    const seen: StepAttempt[] = [];
    const result = await restarted.runStepOnce(OP, 'boot:web-1', 'Boot VM', {}, async (attempt) => {
      seen.push(attempt);
      return { serverId: 'srv-9' };
    });
    expect(result).toEqual({ serverId: 'srv-9' });
    // The repeat knows it follows a crash, and sees the choice the cut attempt noted.
    expect(seen).toMatchObject([
      { attempt: 2, previousStatus: 'running', progress: { recoveryPoint: 'fa-a:pg-web.7' } },
    ]);
    expect(await restarted.getStepAudit(OP, 'boot:web-1')).toMatchObject({ status: 'succeeded', attempt: 2 });
  });

  it('records a failure with its code and message, rethrows it, and retries on the next call', async () => {
    const [repo] = await openRepo();
    const error = new ProtectorError('STORAGE_UNREACHABLE', 'FlashArray fa-seattle-01 did not answer');
    await expect(
      repo.runStepOnce(OP, 'replicate', 'Replicate now', {}, async () => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(await repo.getStepAudit(OP, 'replicate')).toMatchObject({
      status: 'failed',
      attempt: 1,
      errorCode: 'STORAGE_UNREACHABLE',
      errorMessage: 'FlashArray fa-seattle-01 did not answer',
      result: null,
    });

    await expect(
      repo.runStepOnce(OP, 'replicate', 'Replicate now', {}, async () => {
        throw new TypeError('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await repo.getStepAudit(OP, 'replicate')).toMatchObject({ attempt: 2, errorCode: 'INTERNAL' });

    const retried = await repo.runStepOnce(OP, 'replicate', 'Replicate now', {}, async (a) => ({
      attempt: a.attempt,
      previousStatus: a.previousStatus,
      progress: a.progress,
    }));
    expect(retried).toEqual({ attempt: 3, previousStatus: 'failed', progress: null });
    expect(await repo.getStepAudit(OP, 'replicate')).toMatchObject({
      status: 'succeeded',
      errorCode: null,
      errorMessage: null,
    });
  });

  it('joins concurrent calls for the same step instead of running it twice', async () => {
    const [repo] = await openRepo();
    const gate = deferred();
    const fn = vi.fn(async () => {
      await gate.promise;
      return 42;
    });
    const a = repo.runStepOnce(OP, 'promote', 'Promote pod', {}, fn);
    const b = repo.runStepOnce(OP, 'promote', 'Promote pod', {}, fn);
    gate.resolve();
    expect(await Promise.all([a, b])).toEqual([42, 42]);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('keeps steps of different operations and keys apart', async () => {
    const [repo] = await openRepo();
    await repo.runStepOnce('op-1', 'k', 'Step', {}, async () => 'one');
    await repo.runStepOnce('op-2', 'k', 'Step', {}, async () => 'two');
    await repo.runStepOnce('op-1', 'k2', 'Step', {}, async () => null);
    expect(await repo.runStepOnce('op-2', 'k', 'Step', {}, async () => 'again')).toBe('two');
    expect((await repo.listStepAudits('op-1')).map((s) => [s.stepKey, s.result])).toEqual([
      ['k', 'one'],
      ['k2', null],
    ]);
  });

  it('stores the request with secrets redacted', async () => {
    const [repo, ds] = await openRepo();
    await repo.runStepOnce(
      OP,
      'login',
      'Log in to array',
      { array: 'fa-boston-01', apiToken: 'T-aaaabbbb', nested: [{ password: 'hunter2', hasPassword: true }] },
      async () => 'ok',
    );
    expect((await repo.getStepAudit(OP, 'login'))?.request).toEqual({
      array: 'fa-boston-01',
      apiToken: '[REDACTED]',
      nested: [{ password: '[REDACTED]', hasPassword: true }],
    });
    const raw = JSON.stringify(await ds.query('SELECT * FROM step_audit'));
    expect(raw).not.toContain('T-aaaabbbb');
    expect(raw).not.toContain('hunter2');
  });
});
