import { describe, expect, it } from 'vitest';
import type { Replica } from './replicas.js';
import { keepNoReads, rememberedReplicas, rememberReplica } from './request-reads.js';

describe('reads kept per request', () => {
  const replica = { id: 'pg-1', name: 'web' } as unknown as Replica;

  it("keeps a request's reads for that request's context only", () => {
    const request = {};
    rememberReplica(request, 'boston', 'pg-1', replica);
    expect(rememberedReplicas(request, 'boston')?.get('pg-1')).toBe(replica);
    expect(rememberedReplicas({}, 'boston')).toBeUndefined();
  });

  it("keeps nothing for a subscription's context, which outlives any one execution", () => {
    const subscription = {};
    keepNoReads(subscription);
    rememberReplica(subscription, 'boston', 'pg-1', replica);
    expect(rememberedReplicas(subscription, 'boston')).toBeUndefined();
    // An execution for it runs with a context of its own, which does keep its reads.
    const execution = { ...subscription };
    rememberReplica(execution, 'boston', 'pg-1', replica);
    expect(rememberedReplicas(execution, 'boston')?.get('pg-1')).toBe(replica);
  });
});
