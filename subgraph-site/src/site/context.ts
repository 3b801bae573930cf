/** What every part of the site service shares: its name, data, storage, cloud and event bus. */
import { defaultStorageGroupName } from '@protector/schema';
import type { ReplicationGroupRef, StorageDriver } from '@protector/storage-drivers';
import type { ProtectionGroupReplica, SiteRepository } from '../db/index.js';
import type { OpenStackClient } from '../openstack/index.js';
import type { SiteEvents } from './events.js';

export interface SiteContext {
  /** This site's key, e.g. `boston`. */
  readonly siteName: string;
  readonly version: string;
  readonly startedAt: Date;
  readonly authUrl: string;
  readonly repo: SiteRepository;
  readonly driver: StorageDriver;
  /** The site's OpenStack, as the DR service user. */
  readonly cloud: OpenStackClient;
  /**
   * The service user scoped to a tenant project, so that recovered servers, volumes and drill networks
   * belong to the tenant. Needs a role for the service user in that project.
   */
  readonly cloudFor: (projectId: string) => OpenStackClient;
  readonly events: SiteEvents;
  /** This site's array (the driver's primary). */
  readonly localArray: string;
  /** The peer site's array (the driver's secondary). */
  readonly peerArray: string;
  /** A group's replication-policy API tokens by array name; undefined: the `[storage]` ones. */
  readonly arrayTokens: (protectionGroupId: string) => Readonly<Record<string, string>> | undefined;
  /** Where `arrayTokens` come from: read again after a policy change. */
  readonly policyTokens: { refresh(protectionGroupId: string): Promise<void> };
  readonly defaults: { readonly replicationIntervalSeconds: number; readonly rpoMinutes: number };
  /** The Cinder host (`host@backend#pool`, `[cinder] volume_host`) that manages array volumes into Cinder. */
  readonly cinderHost: string;
  /** Members a recovery brings up at once, and test volumes a cleanup deletes at once. */
  readonly recoveryConcurrency: number;
  readonly log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
}

/**
 * Where a group's array group replicates, seen from this site. The array is the source of truth: the
 * direction only changes with reverseReplication, not when the primary designation swaps.
 */
export async function storageRef(ctx: SiteContext, pg: ProtectionGroupReplica): Promise<ReplicationGroupRef> {
  const local = groupRef(ctx, pg, 'from-here');
  const peer = groupRef(ctx, pg, 'to-here');
  if (pg.replicationType === 'sync') return pg.currentPrimarySite === ctx.siteName ? local : peer;
  // Both arrays may hold a source group of this name (the old direction is kept, disabled, after a
  // reprotect): the one whose schedule runs is the replication source.
  const here = await ctx.driver.getReplicationGroup(local);
  return here?.schedule.enabled ? local : peer;
}

/**
 * The group's array group in one direction: replicating from this site's array to the peer's
 * (`from-here`) or from the peer's to this one (`to-here`).
 */
export function groupRef(
  arrays: Pick<SiteContext, 'localArray' | 'peerArray' | 'arrayTokens'>,
  pg: Pick<ProtectionGroupReplica, 'storageGroupName' | 'name' | 'id' | 'replicationType'>,
  direction: 'from-here' | 'to-here',
): ReplicationGroupRef {
  const fromHere = direction === 'from-here';
  const apiTokens = arrays.arrayTokens(pg.id);
  return {
    name: storageGroupNameOf(pg),
    mode: pg.replicationType,
    sourceArray: fromHere ? arrays.localArray : arrays.peerArray,
    targetArray: fromHere ? arrays.peerArray : arrays.localArray,
    ...(apiTokens ? { apiTokens } : {}),
  };
}

/** The array group (protection group or pod) of a Protection Group: its stored name, or the default. */
export const storageGroupNameOf = (
  pg: Pick<ProtectionGroupReplica, 'storageGroupName' | 'name' | 'id'>,
): string => pg.storageGroupName ?? defaultStorageGroupName(pg.name, pg.id);
