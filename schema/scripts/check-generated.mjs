/**
 * Drift check of generated code: after `npm run build` regenerated the typed documents (each package's
 * `src/.../generated/` folder) from the SDL, a clean checkout must have nothing to commit there. In CI (`CI=true`) a
 * difference fails, naming the files; elsewhere it only warns (your working tree may be mid-change).
 */
import { execFileSync } from 'node:child_process';

const paths = [':(glob)**/src/**/generated/**'];
let changed;
try {
  changed = execFileSync('git', ['status', '--porcelain', '--', ...paths], { encoding: 'utf8' }).trim();
} catch {
  process.stdout.write('check-generated: not a git checkout; skipped\n');
  process.exit(0);
}
if (!changed) process.exit(0);
const message = `Generated files differ from the committed ones (run \`npm run build\` and commit them):\n${changed}\n`;
if (process.env.CI === 'true') {
  process.stderr.write(message);
  process.exit(1);
}
process.stderr.write(`warning: ${message}`);
