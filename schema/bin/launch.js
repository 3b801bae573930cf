/**
 * Runs a package bin's compiled entry in `dist/`, or says to build first: npm links bins at install
 * time, before any build. Plain JavaScript (not compiled), so it works before `npm run build` too.
 * @param {string} name the bin's name, for the message
 * @param {URL} entry the compiled entry, e.g. `new URL('../dist/bin.js', import.meta.url)`
 */
export async function launch(name, entry) {
  try {
    await import(entry.href);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || err.url !== entry.href) throw err;
    process.stderr.write(`${name}: not built yet; run \`npm run build\` in the repository root first\n`);
    process.exitCode = 1;
  }
}
