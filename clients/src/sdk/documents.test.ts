import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildContractSchema } from '../testing/contract-schema.js';
import { documents, siteVolumeTypesDocument } from './documents.js';

describe('SDK documents', () => {
  const schema = buildContractSchema(['boston', 'seattle']);

  it.each(
    Object.entries(documents),
  )('%s is valid against the public API (coordinator + site SDL)', (_name, source) => {
    expect(validate(schema, parse(source)).map((e) => e.message)).toEqual([]);
  });

  it('reads volume types from the root field named by the site key', () => {
    expect(validate(schema, parse(siteVolumeTypesDocument('seattle'))).map((e) => e.message)).toEqual([]);
    expect(() => siteVolumeTypesDocument('x { __typename } y')).toThrow(/not a valid site key/);
  });

  it('the contract schema leaves out the site step mutations (@inaccessible)', () => {
    expect(Object.keys(schema.getMutationType()?.getFields() ?? {})).not.toContain('boston');
    expect(Object.keys(schema.getQueryType()?.getFields() ?? {})).toContain('boston');
  });
});
