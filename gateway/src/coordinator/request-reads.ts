/**
 * Replicas the coordinator read for one request with the caller's own credential, by site key and
 * group id, kept for that request only (a WeakMap on its context): the gateway answers the planner's
 * entity fetch of the same replicas from them instead of reading every replica twice
 * (`SiteDataSource`). A group the site answered it does not hold is kept as null.
 */
import type { Replica } from './replicas.js';

const reads = new WeakMap<object, Map<string, Map<string, Replica | null>>>();
/** Contexts whose reads are not kept (see {@link keepNoReads}). */
const standing = new WeakSet<object>();

/**
 * Reads made with `ctx` are not kept: a subscription's context lives as long as the subscription,
 * so what it remembered would go stale (a later execution answered from the state at subscribing)
 * and hold a copy of its groups per subscriber. Each execution for it runs with a context of its own.
 */
export function keepNoReads(ctx: object): void {
  standing.add(ctx);
}

export function rememberReplica(ctx: object, siteKey: string, id: string, replica: Replica | null): void {
  if (standing.has(ctx)) return;
  let bySite = reads.get(ctx);
  if (!bySite) {
    bySite = new Map();
    reads.set(ctx, bySite);
  }
  let byId = bySite.get(siteKey);
  if (!byId) {
    byId = new Map();
    bySite.set(siteKey, byId);
  }
  byId.set(id, replica);
}

/** What this request's caller was answered by the site `siteKey`, by group id. */
export function rememberedReplicas(
  ctx: object,
  siteKey: string,
): ReadonlyMap<string, Replica | null> | undefined {
  return reads.get(ctx)?.get(siteKey);
}
