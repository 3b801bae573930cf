/**
 * Generates `src/coordinator/generated/site-documents.ts` from the documents the coordinator sends to
 * sites (`src/coordinator/documents/*.graphql`), validated against the site subgraph template (root
 * field `here`, the site key that SiteClient substitutes). Runs before `tsc` in `npm run build`.
 */
import { fileURLToPath } from 'node:url';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { siteSubgraphSdl } from '@protector/schema';
import { generateDocuments } from '@protector/schema/codegen';
import { parse } from 'graphql';

const at = (path) => fileURLToPath(new URL(path, import.meta.url));
const changed = await generateDocuments({
  schema: buildSubgraphSchema(parse(siteSubgraphSdl('here'))),
  documentsDir: at('../src/coordinator/documents'),
  output: at('../src/coordinator/generated/site-documents.ts'),
  scalars: { DateTime: 'string', ID: 'string' },
  describe: "the site subgraph template (@protector/schema siteSubgraphSdl('here'))",
});
if (changed) process.stdout.write('codegen: src/coordinator/generated/site-documents.ts updated\n');
