// bench/storage: replicateNow + materialize for 10, 100 and 1,000 volumes on each driver.
// Run: npm run bench:storage   (builds first). Prints one line per driver and size; asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFlashArraySimulator } from '@protector/storage-drivers/fa-sim';
import { MockStorageDriver } from '@protector/storage-drivers/mock';
import { PureStorageDriver } from '@protector/storage-drivers/pure';

const SIZES = (process.env.BENCH_SIZES ?? '10,100,1000').split(',').map(Number);
const quiet = () => {};

async function waitComplete(driver, ref, name) {
  for (;;) {
    const p = (await driver.listRecoveryPoints(ref)).find((x) => x.name === name);
    if (p?.complete) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function run(label, driver, [a, b], n) {
  const ref = { name: `bench-${n}`, mode: 'async', sourceArray: a, targetArray: b };
  const vols = Array.from({ length: n }, (_, i) => ({ name: `b${n}-v${i}`, sizeBytes: 1048576 }));
  await driver.createVolumes(a, vols);
  await driver.ensureReplicationGroup(ref);
  await driver.addVolumes(
    ref,
    vols.map((v) => v.name),
  );
  const t0 = performance.now();
  const point = await driver.replicateNow(ref, { suffix: 'bench' });
  const t1 = performance.now();
  await waitComplete(driver, ref, point.name);
  const t2 = performance.now();
  const out = await driver.materialize(
    ref,
    point.name,
    vols.map((v) => ({ sourceVolume: v.name, targetVolume: `${v.name}-dr` })),
  );
  const t3 = performance.now();
  if (out.length !== n) throw new Error(`materialized ${out.length} of ${n}`);
  const ms = (x) => x.toFixed(0).padStart(6);
  console.log(
    `${label.padEnd(14)} volumes=${String(n).padStart(5)}  replicateNow=${ms(t1 - t0)} ms  transfer-wait=${ms(t2 - t1)} ms  materialize=${ms(t3 - t2)} ms  (${((t3 - t2) / n).toFixed(2)} ms/volume)`,
  );
}

const mockDir = mkdtempSync(join(tmpdir(), 'bench-mock-'));
const mock = MockStorageDriver.create({ dataDir: mockDir, transferMs: 0, log: quiet });
await mock.initialize();
for (const n of SIZES) await run('mock', mock, ['mock-array-a', 'mock-array-b'], n);
await mock.close();
rmSync(mockDir, { recursive: true, force: true });

const simDir = mkdtempSync(join(tmpdir(), 'bench-fasim-'));
const sim = await startFlashArraySimulator({
  dataDir: simDir,
  arrays: [
    { name: 'fa-a', port: 0 },
    { name: 'fa-b', port: 0 },
  ],
  apiToken: 'T-bench',
  transferMs: 0,
});
const pure = new PureStorageDriver({
  primaryArrayUrl: sim.arrays[0].url,
  primaryArrayApiToken: 'T-bench',
  secondaryArrayUrl: sim.arrays[1].url,
  secondaryArrayApiToken: 'T-bench',
  caBundle: sim.certFile,
  log: quiet,
});
await pure.initialize();
for (const n of SIZES) await run('pure+fa-sim', pure, ['fa-a', 'fa-b'], n);
await pure.close();
await sim.stop();
rmSync(simDir, { recursive: true, force: true });
