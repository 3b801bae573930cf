/**
 * A site's limits slow the coordinator's operations down; they do not fail them. The sites of this lab
 * take 3 requests a second per caller (burst 5), the gateway's service identity included: a drill and
 * its cleanup send more than that, the sites refuse some of them with 429 RATE_LIMITED (counted in
 * their `/metrics`), and the gateway sends each again after its Retry-After, since a refused request
 * was not acted on. The tenant's own requests are refused too, and this test's client waits and sends
 * them again, as a client should.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupOfNewVms, OPERATION, until } from './e2e-kit.js';
import { type Lab, startLab } from './lab.js';

describe('a site that rate-limits every caller', () => {
  let lab: Lab;
  let dir: string;
  let tokens: Record<string, string>;

  /** One request as the tenant; a RATE_LIMITED refusal is waited out (1 s) and the request sent again. */
  async function gql<T = Json>(query: string): Promise<T> {
    for (;;) {
      const res = await lab.gql<T>(query, {}, tokens);
      if (res.errors?.[0]?.extensions?.code === 'RATE_LIMITED') {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (res.errors?.length)
        throw new Error(`${res.errors[0]!.message} (${res.errors[0]!.extensions?.code})`);
      return res.data!;
    }
  }

  const refusals = async (site: string): Promise<number> => {
    const text = await (await fetch(new URL('/metrics', lab.sites[site]!.url))).text();
    return Number(/^protector_requests_refused_total\{code="RATE_LIMITED"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };

  async function finished(id: string): Promise<Json> {
    return until(
      `operation ${id}`,
      async () => {
        const { operation } = await gql<{ operation: Json }>(`{ operation(id: "${id}") { ${OPERATION} } }`);
        return ['SUCCEEDED', 'FAILED', 'PARTIAL'].includes(String(operation.status)) ? operation : null;
      },
      120_000,
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protector-limits-e2e-'));
    lab = await startLab({
      dir,
      gatewayPort: 0,
      transferMs: 300,
      bootSeconds: 1,
      replicationIntervalSeconds: 5,
      demo: false,
      siteRateLimit: { perSecond: 3, burst: 5 },
    });
    tokens = await lab.tenantTokens();
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a drill and its cleanup to the end, the gateway sending again what the sites refused for rate', async () => {
    await groupOfNewVms(lab, tokens, gql, 'limited', 2);
    const before = (await refusals('boston')) + (await refusals('seattle'));

    const { testFailover } = await gql<{ testFailover: Json }>(
      'mutation { testFailover(input: { protectionGroup: "limited" }) { id } }',
    );
    const drill = await finished(String(testFailover.id));
    expect(drill.status, JSON.stringify(drill.error)).toBe('SUCCEEDED');
    const { testCleanup } = await gql<{ testCleanup: Json }>(
      'mutation { testCleanup(input: { protectionGroup: "limited" }) { id } }',
    );
    const cleanup = await finished(String(testCleanup.id));
    expect(cleanup.status, JSON.stringify(cleanup.error)).toBe('SUCCEEDED');
    // Each step ran once: none failed and was run again by hand.
    for (const op of [drill, cleanup])
      for (const step of op.steps as Json[]) expect(step.attempt, String(step.key)).toBe(1);
    // The sites did refuse requests meanwhile (the gateway's among them: its steps alone exceed 3/s).
    expect((await refusals('boston')) + (await refusals('seattle'))).toBeGreaterThan(before);
  }, 300_000);
});
