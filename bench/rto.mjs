// bench/rto: how long DR operations take in the two-site lab (real processes, simulated clouds with a
// VM boot time, mock arrays), for Protection Groups of different sizes. Prints numbers; asserts nothing.
// Run: npm run bench:rto   (BENCH_VMS=2,8,16 to choose sizes; BENCH_BOOT_SECONDS for the VM boot time)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootVm, startLab } from '../test/dist/lab.js';

const SIZES = (process.env.BENCH_VMS ?? '2,8,16').split(',').map(Number);
const BOOT_SECONDS = Number(process.env.BENCH_BOOT_SECONDS ?? 2);

const dir = mkdtempSync(join(tmpdir(), 'bench-rto-'));
const lab = await startLab({
  dir,
  gatewayPort: 0,
  transferMs: 300,
  bootSeconds: BOOT_SECONDS,
  replicationIntervalSeconds: 5,
  demo: false,
});
const tokens = await lab.tenantTokens();

async function gql(query, variables = {}) {
  const res = await lab.gql(query, variables, tokens);
  if (res.errors?.length) throw new Error(res.errors[0].message);
  return res.data;
}

async function timed(label, mutation) {
  const t0 = performance.now();
  const data = await gql(mutation);
  const id = Object.values(data)[0].id;
  for (;;) {
    const { operation } = await gql('query($id: ID!) { operation(id: $id) { status } }', { id });
    if (['SUCCEEDED', 'FAILED', 'PARTIAL'].includes(operation.status)) {
      if (operation.status !== 'SUCCEEDED') throw new Error(`${label}: ${operation.status}`);
      return performance.now() - t0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const line = (n, name, ms) =>
  console.log(`vms=${String(n).padStart(3)}  ${name.padEnd(17)} ${(ms / 1000).toFixed(1).padStart(6)} s`);

try {
  for (const n of SIZES) {
    const pg = `bench-${n}`;
    await gql(`mutation { createProtectionGroup(input: { name: "${pg}", replicationType: ASYNC, primarySite: "boston",
      secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`);
    await gql(`mutation { createReplicationPolicy(input: { protectionGroup: "${pg}", policy: { primaryArrayUrl: "https://a.lab",
      primaryArrayToken: "t", secondaryArrayUrl: "https://b.lab", secondaryArrayToken: "t", purePgName: "${pg}",
      replicationIntervalSeconds: 5, rpoMinutes: 5 } }) { id } }`);
    for (let i = 0; i < n; i++) {
      await bootVm(lab.sites.boston, tokens.boston, `${pg}-vm${i}`);
      await gql(`mutation { addMember(input: { protectionGroup: "${pg}", server: "${pg}-vm${i}" }) { id } }`);
    }
    const joined = Date.now();
    for (;;) {
      const { recoveryPoints } = await gql(
        `{ recoveryPoints(protectionGroup: "${pg}") { complete createdAt } }`,
      );
      if (recoveryPoints.some((p) => p.complete && Date.parse(p.createdAt) > joined)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    line(
      n,
      'test failover',
      await timed('test failover', `mutation { testFailover(input: { protectionGroup: "${pg}" }) { id } }`),
    );
    line(
      n,
      'test cleanup',
      await timed('test cleanup', `mutation { testCleanup(input: { protectionGroup: "${pg}" }) { id } }`),
    );
    line(
      n,
      'planned failover',
      await timed(
        'planned failover',
        `mutation { failover(input: { protectionGroup: "${pg}", type: PLANNED }) { id } }`,
      ),
    );
    line(
      n,
      'failback',
      await timed('failback', `mutation { failback(input: { protectionGroup: "${pg}" }) { id } }`),
    );
  }
  console.log(`(VM boot time ${BOOT_SECONDS} s, snapshot transfer 0.3 s, members recovered 8 at a time)`);
} finally {
  await lab.stop();
  rmSync(dir, { recursive: true, force: true });
}
