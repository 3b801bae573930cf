import { defineConfig } from 'vitest/config';

// The kit's own config: without it vitest would take the e2e package's (`test/vitest.config.ts`), whose
// include is relative to `test/`, and find none of the kit's tests.
export default defineConfig({
  test: { include: ['src/**/*.test.ts'] },
});
