/**
 * A replication policy and the arrays of `[storage]` (pure driver): its URLs must name those arrays, and
 * its tokens are mapped to them for the group's array calls, with `local_array` deciding which one the
 * driver calls its own. On the real site repository (SQLite, tokens encrypted at rest).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey } from '@protector/platform/db';
import type { ArrayInfo, StorageDriver } from '@protector/storage-drivers';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSiteDataSource, createSiteRepository, type SiteRepository } from '../db/index.js';
import type { SiteContext } from './context.js';
import { PolicyTokens } from './policy-tokens.js';
import { checkPolicyArraysOf } from './steps/metadata.js';

const BOSTON = 'https://fa-boston-01.example.com';
const SEATTLE = 'https://fa-seattle-01.example.com';

/** The driver's view of the arrays on site B (local_array = secondary): seattle's first. */
const info = (name: string, endpoint: string, role: 'primary' | 'secondary'): ArrayInfo => ({
  name,
  endpoint,
  role,
  id: randomUUID(),
  version: '2.26',
  available: true,
  error: null,
});
const arraysOfSiteB = [info('fa-seattle-01', SEATTLE, 'primary'), info('fa-boston-01', BOSTON, 'secondary')];
const driver = (name: 'pure' | 'mock') => ({ name, arrays: () => arraysOfSiteB }) as unknown as StorageDriver;
const ctx = (name: 'pure' | 'mock') =>
  ({ siteName: 'seattle', driver: driver(name) }) as unknown as SiteContext;

describe("a policy's array URLs", () => {
  it('are the arrays of [storage], in either order, or not given', () => {
    for (const urls of [
      { primaryArrayUrl: BOSTON, secondaryArrayUrl: SEATTLE },
      { primaryArrayUrl: `${SEATTLE}/`, secondaryArrayUrl: BOSTON },
      { primaryArrayUrl: '', secondaryArrayUrl: '' },
    ]) {
      expect(() => checkPolicyArraysOf(ctx('pure'), urls)).not.toThrow();
    }
  });

  it('are refused when unknown or the same array twice, naming both [storage] arrays', () => {
    expect(() =>
      checkPolicyArraysOf(ctx('pure'), {
        primaryArrayUrl: 'https://fa-other.example.com',
        secondaryArrayUrl: SEATTLE,
      }),
    ).toThrow(
      `primaryArrayUrl 'https://fa-other.example.com' is not an array of site seattle's [storage] (primary_array_url ${SEATTLE}, secondary_array_url ${BOSTON})`,
    );
    expect(() =>
      checkPolicyArraysOf(ctx('pure'), { primaryArrayUrl: BOSTON, secondaryArrayUrl: BOSTON }),
    ).toThrow(/both name/);
  });

  it('are ignored by the mock driver', () => {
    expect(() =>
      checkPolicyArraysOf(ctx('mock'), {
        primaryArrayUrl: 'https://anything.example.com',
        secondaryArrayUrl: '',
      }),
    ).not.toThrow();
  });
});

describe("a policy's array tokens", () => {
  let dir: string;
  let ds: DataSource;
  let repo: SiteRepository;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'protector-policy-tokens-'));
    ds = await createSiteDataSource({ url: `sqlite://${join(dir, 'site.sqlite')}` });
    repo = createSiteRepository(ds, { secretKey: generateSecretKey() });
  });
  afterEach(async () => {
    await ds.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const group = async (policy: {
    primaryArrayUrl: string;
    secondaryArrayUrl: string;
    primaryArrayToken?: string;
  }) => {
    const id = randomUUID();
    await repo.applyProtectionGroupMetadata(
      {
        id,
        name: `pg-${id.slice(0, 8)}`,
        projectId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        replicationType: 'async',
        currentPrimarySite: 'boston',
        secondarySite: 'seattle',
        volumeType: 'replicated-ssd',
        replicationPolicy: { ...policy, purePgName: null, replicationIntervalSeconds: 300, rpoMinutes: 15 },
      },
      0,
    );
    return id;
  };

  it('go to the array their URL names, else to the [storage] array of that role', async () => {
    const tokens = new PolicyTokens(repo, driver('pure'), { primary: BOSTON, secondary: SEATTLE });
    const named = await group({
      primaryArrayUrl: SEATTLE,
      secondaryArrayUrl: BOSTON,
      primaryArrayToken: 'T-seattle',
    });
    const unnamed = await group({
      primaryArrayUrl: '',
      secondaryArrayUrl: '',
      primaryArrayToken: 'T-boston',
    });
    const none = await group({ primaryArrayUrl: BOSTON, secondaryArrayUrl: SEATTLE });
    await tokens.loadAll();
    expect(tokens.forGroup(named)).toEqual({ 'fa-seattle-01': 'T-seattle' });
    // No URL: the policy's primary token is for [storage] primary_array_url, whichever array is local.
    expect(tokens.forGroup(unnamed)).toEqual({ 'fa-boston-01': 'T-boston' });
    expect(tokens.forGroup(none)).toBeUndefined();
  });

  it('are not used with the mock driver', async () => {
    const tokens = new PolicyTokens(repo, driver('mock'), null);
    const id = await group({
      primaryArrayUrl: BOSTON,
      secondaryArrayUrl: SEATTLE,
      primaryArrayToken: 'T-boston',
    });
    await tokens.refresh(id);
    expect(tokens.forGroup(id)).toBeUndefined();
  });
});
