/**
 * The security suite, on one real lab (two sites, their simulated Keystones, the gateway; the
 * gateway with the product's default `introspection = authenticated`): the matrix of every root field
 * of the supergraph x six identities (`security-table.ts`), checked to cover the live schema, each
 * refused call proved to have changed nothing; docs/security.md compared with what the table renders;
 * and one test per finding of the security review proving it closed (`security-findings-*.ts`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSecurityDoc } from './security-doc.js';
import { registerAccessFindings } from './security-findings-access.js';
import { registerLimitFindings } from './security-findings-limits.js';
import { registerTenantFindings } from './security-findings-tenants.js';
import { type Fixture, startSecurityLab } from './security-fixture.js';
import { describeOutcome, MatrixRunner, matches } from './security-matrix.js';
import { IDENTITIES, TABLE } from './security-table.js';

let dir: string;
let fx: Fixture;
let runner: MatrixRunner;
const lab = () => fx;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protector-security-'));
  fx = await startSecurityLab(dir);
  runner = new MatrixRunner(fx);
}, 240_000);

afterAll(async () => {
  await fx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the matrix covers the supergraph', () => {
  it('has one row for every root field of the live supergraph, and no other', async () => {
    const { __schema } = await fx.ok<{ __schema: Record<string, { fields: { name: string }[] } | null> }>(
      'admin',
      '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }',
    );
    const live = [
      ...(__schema.queryType?.fields ?? []).map((f) => `Query.${f.name}`),
      ...(__schema.mutationType?.fields ?? []).map((f) => `Mutation.${f.name}`),
      ...(__schema.subscriptionType?.fields ?? []).map((f) => `Subscription.${f.name}`),
    ].sort();
    expect(TABLE.map((r) => `${r.root}.${r.field}`).sort()).toEqual(live);
  });
});

for (const row of TABLE) {
  describe(`${row.root}.${row.field}`, () => {
    for (const identity of IDENTITIES) {
      const expected = row.expect[identity.key];
      const bug = row.productBugs?.[identity.key];
      const title = `${identity.title}: ${describeOutcome(expected)}${bug ? ` (product bug: ${bug})` : ''}`;
      (bug ? it.fails : it)(title, async () => {
        const cell = await runner.run(row, identity.key);
        const context = `${row.root}.${row.field} as ${identity.title}: got ${describeOutcome(cell.observed)}\n${cell.raw.slice(0, 800)}`;
        expect(matches(expected, cell.observed), context).toBe(true);
        expect(cell.leaked, `${context}\ntenant A's identifiers in tenant B's answer`).toEqual([]);
        if (cell.stateBefore !== undefined)
          expect(cell.stateAfter, `${context}\nthe call changed state`).toEqual(cell.stateBefore);
      });
    }
  });
}

describe('docs/security.md', () => {
  it('is what the table renders (regenerate: npx vitest run src/security -u in test/)', async () => {
    await expect(renderSecurityDoc()).toMatchFileSnapshot('../../docs/security.md');
  });
});

registerAccessFindings(lab);
registerTenantFindings(lab);
registerLimitFindings(lab);
