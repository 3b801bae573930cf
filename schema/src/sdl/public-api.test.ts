import { buildSchema, parse, visit } from 'graphql';
import { describe, expect, it } from 'vitest';
import { publicApiSdl } from './index.js';

describe('publicApiSdl', () => {
  const sdl = publicApiSdl(['boston', 'seattle']);
  const schema = buildSchema(sdl);

  it('is plain SDL: no directive is applied, nothing is @inaccessible, no federation link', () => {
    const applied: string[] = [];
    visit(parse(sdl), { Directive: (node) => void applied.push(node.name.value) });
    expect(applied).toEqual([]);
    expect(sdl).not.toMatch(/@inaccessible|@link|@key|@shareable/);
    expect(schema.getType('SiteMutations')).toBeUndefined();
    expect(schema.getType('SiteStepInput')).toBeUndefined();
  });

  it("keeps each site's root field on Query and on ProtectionGroup, but not its step mutations", () => {
    const query = Object.keys(schema.getQueryType()?.getFields() ?? {});
    expect(query).toEqual(expect.arrayContaining(['boston', 'seattle', 'sites', 'protectionGroup']));
    expect(Object.keys(schema.getMutationType()?.getFields() ?? {})).not.toContain('boston');
    const group = schema.getType('ProtectionGroup');
    expect(group && 'getFields' in group ? Object.keys(group.getFields()) : []).toEqual(
      expect.arrayContaining(['boston', 'seattle']),
    );
  });

  it('rejects a site key that is not valid', () => {
    expect(() => publicApiSdl(['Not A Key'])).toThrow(/not valid/);
  });
});
