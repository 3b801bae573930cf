// bench/rto: how long DR operations take in the two-site lab (real processes, simulated clouds with a
// VM boot time, mock arrays), for Protection Groups of different sizes. Prints numbers; asserts nothing.
// Run: npm run bench:rto   (BENCH_VMS=2,8,16 to choose sizes; BENCH_BOOT_SECONDS for the VM boot time)
// Each time is printed next to its critical-path bound (see criticalPathBound) and written to
// bench/results/rto.json.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, requireBuild, writeResult } from './lib/common.mjs';

requireBuild();
const { bootVm, startLab } = await import('../test/dist/lab.js');

const SIZES = (process.env.BENCH_VMS ?? '2,8,16').split(',').map(Number);
const BOOT_SECONDS = Number(process.env.BENCH_BOOT_SECONDS ?? 2);
const TRANSFER_MS = 300;
/** Members a site recovers at once (MEMBER_CONCURRENCY in subgraph-site/src/site/steps/kit.ts). */
const MEMBERS_AT_ONCE = 8;

/**
 * The least time an operation on a group of `n` VMs can take in this lab: the sum, over the steps of its
 * plan (gateway/src/coordinator/plans.ts; the steps run one after another), of the time the simulators
 * make those steps wait. Everything else (API calls, database writes, polling) counts as zero, so the
 * gap between a measured time and its bound is the product's own overhead.
 * - A VM booted on the recovering site (a new server) is ACTIVE `BOOT_SECONDS` after it was created
 *   (the simulated Nova's sim_boot_seconds). A site recovers 8 members at a time, in priority order; the
 *   bench's members all have the default priority, so booting n VMs takes ceil(n / 8) boot times.
 * - Stopping or starting a server takes no simulated time (the simulated Nova's powerTimeMs is 0), nor
 *   do Cinder volume creation and manage (volumeCreateMs 0), the array copies (materialize) or the test
 *   network.
 * - A replicated snapshot taken by replicateNow completes `transferMs` (300 ms here) after it is taken,
 *   and the step waits for it.
 * So:
 * - test failover (test network, recover on the secondary from the newest complete point, which
 *   exists already): ceil(n / 8) boots;
 * - test cleanup (delete the drill's servers, volumes, copies and network): 0;
 * - planned failover (stop the VMs, final replicateNow, recover as new servers on the secondary,
 *   swap roles): one transfer + ceil(n / 8) boots;
 * - failback (reverse replication, stop on the secondary, final replicateNow, recover on the original
 *   site in place: the original servers are stopped there, get the recovered volumes and are started,
 *   which takes no simulated time; protect): one transfer.
 */
function criticalPathBound(operation, n) {
  const boots = Math.ceil(n / MEMBERS_AT_ONCE) * BOOT_SECONDS * 1000;
  switch (operation) {
    case 'test failover':
      return boots;
    case 'test cleanup':
      return 0;
    case 'planned failover':
      return TRANSFER_MS + boots;
    case 'failback':
      return TRANSFER_MS;
    default:
      throw new Error(`no bound for ${operation}`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-rto-'));
const lab = await startLab({
  dir,
  gatewayPort: 0,
  transferMs: TRANSFER_MS,
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

const results = [];
const line = (n, name, ms) => {
  const bound = criticalPathBound(name, n);
  results.push({
    vms: n,
    operation: name,
    ms: Math.round(ms),
    boundMs: bound,
    overheadMs: Math.round(ms - bound),
  });
  console.log(
    `vms=${String(n).padStart(3)}  ${name.padEnd(17)} ${(ms / 1000).toFixed(1).padStart(6)} s   bound ${(bound / 1000).toFixed(1).padStart(5)} s   over it ${((ms - bound) / 1000).toFixed(1).padStart(5)} s`,
  );
};

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
  console.log(
    `(VM boot time ${BOOT_SECONDS} s, snapshot transfer ${TRANSFER_MS / 1000} s, members recovered ${MEMBERS_AT_ONCE} at a time; ` +
      'bound: the simulated waits on the critical path, see criticalPathBound in bench/rto.mjs)',
  );
  writeResult('rto', {
    bench: 'rto',
    date: new Date().toISOString(),
    machine: machine(),
    settings: { vms: SIZES, bootSeconds: BOOT_SECONDS, transferMs: TRANSFER_MS },
    runs: results,
  });
} finally {
  await lab.stop();
  rmSync(dir, { recursive: true, force: true });
}
