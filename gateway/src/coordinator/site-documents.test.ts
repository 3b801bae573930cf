import { readFileSync } from 'node:fs';
import { SITE_STEP_NAMES } from '@protector/schema';
import { Kind, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { StopServersDocument } from './generated/site-documents.js';
import { SiteClient } from './site-client.js';
import type { SiteRecord } from './store.js';

const stepsDocument = parse(readFileSync(new URL('./documents/site-steps.graphql', import.meta.url), 'utf8'));

describe('site documents', () => {
  it('hold one mutation per site step, named after it, that selects the step receipt', () => {
    const steps = stepsDocument.definitions.flatMap((def) => {
      if (def.kind !== Kind.OPERATION_DEFINITION) return [];
      const here = def.selectionSet.selections[0];
      const field = here?.kind === Kind.FIELD ? here.selectionSet?.selections[0] : undefined;
      if (field?.kind !== Kind.FIELD) return [];
      expect(def.name?.value).toBe(field.name.value[0]!.toUpperCase() + field.name.value.slice(1));
      expect(
        field.selectionSet?.selections.some((s) => s.kind === Kind.FIELD && s.name.value === 'step'),
      ).toBe(true);
      return [field.name.value];
    });
    expect(steps.sort()).toEqual([...SITE_STEP_NAMES].sort());
  });

  it('reach a site under its key: the root field `here` is aliased onto the key', async () => {
    const sent: string[] = [];
    const client = new SiteClient({ name: 'boston', key: 'boston' } as SiteRecord, async () => null, 1000);
    // The private send is the one place a document leaves the client; record what it would send.
    (client as unknown as { send: (q: string) => Promise<unknown> }).send = async (query: string) => {
      sent.push(query);
      return { here: { stopServers: { step: { replayed: false }, servers: [] } } };
    };
    const res = await client.step(
      StopServersDocument,
      { operationId: 'op', stepKey: 'k' },
      { protectionGroupId: 'g' },
    );
    expect(res.servers).toEqual([]);
    expect(sent[0]).toMatch(
      /^mutation StopServers\(\$step: SiteStepInput!, \$input: ServerActionInput!\) \{\n {2}here: boston \{/,
    );
  });
});
