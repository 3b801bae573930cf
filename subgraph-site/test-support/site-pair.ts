/**
 * Two sites for the site service's integration tests (no gateway: the end-to-end lab with the gateway
 * is `startLab()` of `@protector/e2e`): `boston` and `seattle` as real `protector-site` processes on
 * port 0 sharing one mock storage data dir, each with its own simulated cloud; plus the GraphQL step
 * calls the coordinator would make, and tenant actions on a site's cloud.
 */

import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type SiteStepName, siteStepInputTypesInSdl } from '@protector/schema';
import { MockStorageDriver } from '@protector/storage-drivers/mock';
import { type GraphQLResult, gql } from '@protector/test-kit/graphql';
import { tempDir } from '@protector/test-kit/temp';
import { createOpenStackClient, type OpenStackClient } from '../src/openstack/index.js';
import {
  type SiteProcess,
  type SiteTokens,
  siteTokens,
  startSiteProcess,
  writeSiteConfig,
} from './site-process.js';

/** Input type of each site step (SiteMutations), from the site template. */
export const STEP_INPUT_TYPES = siteStepInputTypesInSdl() as Record<SiteStepName, string>;
export type StepName = SiteStepName;

export const RECEIPT = 'step { operationId stepKey replayed startedAt finishedAt }';
export const REPLICA_FIELDS = `id name role status metadataVersion projectId storageGroupName consistencyGroupId
  members { id name status volumes { id sizeGb volumeType bootable bootIndex deviceName storageVolumeName }
    placements { site { name } serverId volumes { memberVolumeId volumeId } } }
  resourceMappings { kind sourceSite { name } sourceId targetSite { name } targetId }`;

/** One running site with its tokens and clouds. */
export interface PairSite {
  readonly name: string;
  proc: SiteProcess;
  tokens: SiteTokens;
  /** The site's cloud as the tenant (`demo`), as `admin`, and as the DR service user (owner of what steps create). */
  tenantCloud: OpenStackClient;
  adminCloud: OpenStackClient;
  serviceCloud: OpenStackClient;
  readonly configPath: string;
}

export interface SitePair {
  readonly dir: string;
  readonly mockDir: string;
  readonly boston: PairSite;
  readonly seattle: PairSite;
  /** The shared mock arrays, opened in this process (simulateWrite, setLink, volume contents). */
  readonly storage: MockStorageDriver;
  /** SIGKILLs a site, or stops it gracefully. */
  restart(site: PairSite, how?: 'kill' | 'stop'): Promise<void>;
  stop(): Promise<void>;
}

const cloudAs = (keystoneUrl: string, user: string, project: string): OpenStackClient =>
  createOpenStackClient({
    authUrl: keystoneUrl,
    credentials: { type: 'password', username: user, password: user, projectName: project },
    pollIntervalMs: 100,
  });

async function connect(site: { name: string; configPath: string }, proc: SiteProcess): Promise<PairSite> {
  return {
    name: site.name,
    configPath: site.configPath,
    proc,
    tokens: await siteTokens(proc.keystoneUrl),
    tenantCloud: cloudAs(proc.keystoneUrl, 'demo', 'demo'),
    adminCloud: cloudAs(proc.keystoneUrl, 'admin', 'admin'),
    serviceCloud: createOpenStackClient({
      authUrl: proc.keystoneUrl,
      credentials: { type: 'password', username: 'protector', password: 'protector', projectName: 'service' },
      pollIntervalMs: 100,
    }),
  };
}

/** Starts boston (arrays a,b) and seattle (arrays b,a) on one shared mock data dir. */
export async function startSitePair(
  opts: {
    bootSeconds?: { boston?: number; seattle?: number };
    transferMs?: number;
    extra?: Readonly<Record<string, readonly string[]>>;
  } = {},
): Promise<SitePair> {
  const tmp = tempDir('protector-site-pair');
  const mockDir = join(tmp.path, 'mock_storage');
  mkdirSync(mockDir);
  const configs = {
    boston: writeSiteConfig({
      name: 'boston',
      dir: tmp.path,
      mockDir,
      arrays: ['mock-array-a', 'mock-array-b'],
      transferMs: opts.transferMs,
      bootSeconds: opts.bootSeconds?.boston,
      extra: opts.extra,
    }),
    seattle: writeSiteConfig({
      name: 'seattle',
      dir: tmp.path,
      mockDir,
      arrays: ['mock-array-b', 'mock-array-a'],
      transferMs: opts.transferMs,
      bootSeconds: opts.bootSeconds?.seattle,
      extra: opts.extra,
    }),
  };
  const procs: SiteProcess[] = [];
  let storage: MockStorageDriver | null = null;
  try {
    // Boston first: the first process to open the shared SQLite file creates the arrays.
    const b = await startSiteProcess(configs.boston);
    procs.push(b);
    const s = await startSiteProcess(configs.seattle);
    procs.push(s);
    const boston = await connect({ name: 'boston', configPath: configs.boston }, b);
    const seattle = await connect({ name: 'seattle', configPath: configs.seattle }, s);
    storage = MockStorageDriver.create({
      dataDir: mockDir,
      arrays: ['mock-array-a', 'mock-array-b'],
      log: () => undefined,
    });
    await storage.initialize();
    const pair: SitePair = {
      dir: tmp.path,
      mockDir,
      boston,
      seattle,
      storage,
      async restart(site, how = 'kill') {
        if (how === 'kill') await site.proc.kill();
        else await site.proc.stop();
        const proc = await startSiteProcess(site.configPath);
        Object.assign(site, await connect(site, proc));
      },
      async stop() {
        await Promise.all([boston.proc.stop(), seattle.proc.stop()]);
        await storage?.close();
        tmp.cleanup();
      },
    };
    return pair;
  } catch (err) {
    await Promise.all(procs.map((p) => p.kill()));
    await storage?.close();
    tmp.cleanup();
    throw err;
  }
}

/** Calls one step mutation on a site with the service token. */
export function callStep<T = Record<string, unknown>>(
  site: PairSite,
  name: StepName,
  key: { operationId: string; stepKey: string; attempt?: number },
  input: Record<string, unknown>,
  selection: string,
  token: string = site.tokens.service,
): Promise<GraphQLResult<T>> {
  return gql<T>(
    site.proc.url,
    token,
    `mutation Step($step: SiteStepInput!, $input: ${STEP_INPUT_TYPES[name]}!) {
      ${site.name} { ${name}(step: $step, input: $input) { ${selection} } }
    }`,
    { step: key, input },
  );
}

/** Like callStep, but fails on any error and returns the step's payload. */
export async function stepOk<T = Record<string, unknown>>(
  site: PairSite,
  name: StepName,
  key: { operationId: string; stepKey: string; attempt?: number },
  input: Record<string, unknown>,
  selection: string,
): Promise<T> {
  const r = await callStep<Record<string, Record<string, T>>>(site, name, key, input, selection);
  if (r.errors.length || !r.data) {
    throw new Error(
      `${site.name}.${name} failed: ${r.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`,
    );
  }
  return r.data[site.name]![name]!;
}

/** Reads `{ <site> { ... } }` with a token; fails on errors. */
export async function readSite<T = Record<string, unknown>>(
  site: PairSite,
  selection: string,
  token: string = site.tokens.service,
  variables: Record<string, unknown> = {},
  varDefs = '',
): Promise<T> {
  const r = await gql<Record<string, T>>(
    site.proc.url,
    token,
    `query Read${varDefs} { ${site.name} { ${selection} } }`,
    variables,
  );
  if (r.errors.length || !r.data) {
    throw new Error(`read failed: ${r.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`);
  }
  return r.data[site.name]!;
}

/** Protection Group metadata as the coordinator writes it (version 1, no members). */
export function groupMetadata(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: randomUUID(),
    name: 'prod-web-app',
    description: 'web tier',
    projectId: 'unset',
    replicationType: 'ASYNC',
    status: 'ACTIVE',
    currentPrimarySite: 'boston',
    secondarySite: 'seattle',
    metadataVersion: 1,
    syncStatus: 'IN_SYNC',
    storageGroupName: 'pg-prod-web-app',
    volumeType: 'replicated-ssd',
    members: [],
    resourceMappings: [],
    ...over,
  };
}

/** As the tenant: a 1 GiB volume of `volumeType`, and a server booted from it on the `private` network. */
export async function bootTenantServer(
  site: PairSite,
  name: string,
  volumeType: string,
): Promise<{ serverId: string; volumeId: string; networkId: string }> {
  const cloud = site.tenantCloud;
  const network = (await cloud.listNetworks({ name: 'private' }))[0];
  if (!network) throw new Error('no private network');
  const image = (await cloud.listImages())[0];
  if (!image) throw new Error('no image');
  const volume = await cloud.createVolume({
    size: 1,
    name: `${name}-boot`,
    volume_type: volumeType,
    imageRef: image.id,
  });
  await cloud.waitForVolumeStatus(volume.id, 'available', { timeoutMs: 15_000 });
  const server = await cloud.createServer({
    name,
    flavorRef: '1',
    networks: [{ uuid: network.id }],
    block_device_mapping_v2: [
      {
        uuid: volume.id,
        source_type: 'volume',
        destination_type: 'volume',
        boot_index: 0,
        delete_on_termination: false,
      },
    ],
  });
  await cloud.waitForServerStatus(server.id, 'ACTIVE', { timeoutMs: 20_000 });
  return { serverId: server.id, volumeId: volume.id, networkId: network.id };
}
