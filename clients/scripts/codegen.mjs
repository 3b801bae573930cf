/**
 * Generates `src/sdk/generated/operations.ts` from the SDK's documents (`src/sdk/documents/*.graphql`),
 * validated against the public API: the coordinator SDL plus the site template under the neutral key
 * `here` (@protector/schema publicApiSdl). Runs before `tsc` in `npm run build`; `npm run codegen`
 * alone regenerates. An optional argument writes elsewhere (the drift test compares that output with
 * the committed file).
 */
import { fileURLToPath } from 'node:url';
import { publicApiSdl } from '@protector/schema';
import { generateDocuments } from '@protector/schema/codegen';
import { buildSchema } from 'graphql';

const at = (path) => fileURLToPath(new URL(path, import.meta.url));
const output = process.argv[2] ?? at('../src/sdk/generated/operations.ts');
const changed = await generateDocuments({
  schema: buildSchema(publicApiSdl(['here'])),
  documentsDir: at('../src/sdk/documents'),
  output,
  scalars: { DateTime: 'string', ID: 'string' },
  describe: "the public API (@protector/schema publicApiSdl(['here']))",
});
if (changed && process.argv[2] === undefined) {
  process.stdout.write('codegen: src/sdk/generated/operations.ts updated\n');
}
