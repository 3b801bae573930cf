import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DocumentNode, Kind, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildContractSchema } from '../testing/contract-schema.js';
import { documents, siteVolumeTypesDocument } from './documents.js';

const at = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const documentsDir = at('./documents');
const files = readdirSync(documentsDir).filter((f) => f.endsWith('.graphql'));
/** Every fragment and operation of `documents/*.graphql`, as one document. */
const sources: DocumentNode = {
  kind: Kind.DOCUMENT,
  definitions: files.flatMap((f) => parse(readFileSync(join(documentsDir, f), 'utf8')).definitions),
};
const operationNames = sources.definitions.flatMap((def) =>
  def.kind === Kind.OPERATION_DEFINITION ? [def.name?.value ?? ''] : [],
);

describe('SDK documents', () => {
  const schema = buildContractSchema(['boston', 'seattle']);

  it('the .graphql files are valid against the public API with the template site key `here`', () => {
    expect(files.length).toBeGreaterThan(0);
    expect(validate(buildContractSchema(['here']), sources).map((e) => e.message)).toEqual([]);
  });

  it.each(
    Object.entries(documents),
  )('%s is valid against the public API (coordinator + site SDL)', (_name, document) => {
    expect(validate(schema, document).map((e) => e.message)).toEqual([]);
  });

  it('exports every operation of the .graphql files (site volume types through its own helper)', () => {
    const exported = Object.values(documents).flatMap((document) =>
      document.definitions.flatMap((def) =>
        def.kind === Kind.OPERATION_DEFINITION ? [def.name?.value ?? ''] : [],
      ),
    );
    expect([...exported, 'SiteVolumeTypes'].sort()).toEqual([...operationNames].sort());
  });

  it('reads volume types from the root field named by the site key', () => {
    const document = siteVolumeTypesDocument('seattle');
    expect(document).toMatch(/^query SiteVolumeTypes \{\n {2}seattle \{\n {4}volumeTypes \{/);
    expect(validate(schema, parse(document)).map((e) => e.message)).toEqual([]);
    expect(() => siteVolumeTypesDocument('x { __typename } y')).toThrow(/Site key .* is not valid/);
  });

  it('the contract schema leaves out the site step mutations (@inaccessible)', () => {
    expect(Object.keys(schema.getMutationType()?.getFields() ?? {})).not.toContain('boston');
    expect(Object.keys(schema.getQueryType()?.getFields() ?? {})).toContain('boston');
  });
});

describe('generated/operations.ts', () => {
  /** The header names the documents relative to the output file; compare without their folder. */
  const normalize = (text: string) => text.replace(/[^\s,]*\/documents\//g, 'documents/');

  it('is what the generator makes of the current documents and SDL (run `npm run codegen` and commit)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'protector-client-codegen-'));
    try {
      const output = join(dir, 'operations.ts');
      execFileSync(process.execPath, [at('../../scripts/codegen.mjs'), output], { stdio: 'pipe' });
      expect(normalize(readFileSync(output, 'utf8'))).toBe(
        normalize(readFileSync(at('./generated/operations.ts'), 'utf8')),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
