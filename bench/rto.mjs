// bench/rto: how long DR operations take in the two-site lab (real processes, simulated clouds with a
// VM boot time, mock arrays), for one Protection Group of each size and for many groups at once.
// Prints numbers; asserts nothing.
// Run: npm run bench:rto
//   BENCH_VMS=10,100,500     the sizes of the single groups (members, one VM each)
//   BENCH_GROUPS_AT_ONCE=50  then that many groups of BENCH_GROUP_VMS=2 VMs, each operation started on
//                            all of them at once (0: skip)
//   BENCH_BOOT_SECONDS=2     the simulated VM boot time
//   BENCH_RECOVERY_CONCURRENCY=8  the sites' [DEFAULT] recovery_concurrency (and the bound's)
//   BENCH_STORAGE=mock       the arrays: mock (one SQLite file shared by the sites) or fa-sim
//   BENCH_KEEP=0             1: keep the lab's folder (its services' logs and databases) afterwards
// A site's RATE_LIMITED refusal of the tenant's requests (many operations started at once by one caller
// exceed its [api] rate_limit) is waited for (1 s) and sent again, as a client should; the count is printed.
// Each time is printed next to its critical-path bound (see criticalPathBound) and written to
// bench/results/rto.json with each step's start and length.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envChoice, envList, envNumber, machine, requireBuild, writeResult } from './lib/common.mjs';

requireBuild();
const { bootVm, startLab } = await import('../test/dist/lab.js');
const { mapLimit } = await import('@protector/platform');

const SIZES = envList('BENCH_VMS', [10, 100, 500]);
const GROUPS_AT_ONCE = envNumber('BENCH_GROUPS_AT_ONCE', 50);
const GROUP_VMS = envNumber('BENCH_GROUP_VMS', 2);
const BOOT_SECONDS = envNumber('BENCH_BOOT_SECONDS', 2);
/** The arrays: the sites' mock driver on one shared SQLite file, or fa-sim over HTTPS (see the lab). */
const STORAGE = envChoice('BENCH_STORAGE', ['mock', 'fa-sim'], 'mock');
const TRANSFER_MS = 300;
/** Members a site boots at once: the sites' [DEFAULT] recovery_concurrency. */
const MEMBERS_AT_ONCE = envNumber('BENCH_RECOVERY_CONCURRENCY', 8);

/**
 * The least time an operation on a group of `n` VMs can take in this lab: the sum, over the steps of its
 * plan (gateway/src/coordinator/plans.ts), of the time the simulators make those steps wait. Everything
 * else (API calls, database writes, polling) counts as zero, so the gap between a measured time and its
 * bound is the product's own overhead. Groups run at once are independent, so each has its own bound.
 * - A VM booted on the recovering site (a new server) is ACTIVE `BOOT_SECONDS` after it was created
 *   (the simulated Nova's sim_boot_seconds). A site boots `recovery_concurrency` members at a time, in
 *   priority order; the bench's members all have the default priority, so booting n VMs takes
 *   ceil(n / recovery_concurrency) boot times.
 * - Stopping or starting a server takes no simulated time (the simulated Nova's powerTimeMs is 0), nor
 *   do Cinder volume creation and manage (volumeCreateMs 0), the array copies (materialize) or the test
 *   network.
 * - A replicated snapshot taken by replicateNow completes `transferMs` (300 ms here) after it is taken,
 *   and the step waits for it.
 * So:
 * - test failover (test network, recover on the secondary from the newest complete point, which
 *   exists already): ceil(n / recovery_concurrency) boots;
 * - test cleanup (delete the drill's servers, volumes, copies and network): 0;
 * - planned failover (stop the VMs, final replicateNow, recover as new servers on the secondary,
 *   swap roles): one transfer + the boots;
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
  recoveryConcurrency: MEMBERS_AT_ONCE,
  storage: STORAGE,
});
/** What a replication policy names: fa-sim's arrays and token, or any URL for the mock driver. */
const ARRAYS = {
  primary: lab.arrayUrls?.[lab.arrays.boston] ?? 'https://mock-array-a.lab',
  secondary: lab.arrayUrls?.[lab.arrays.seattle] ?? 'https://mock-array-b.lab',
  token: lab.arrayUrls ? 'T-lab-fa-sim' : 'T-bench',
};
const tokens = await lab.tenantTokens();

/** Requests a site refused for this caller's rate (`[api] rate_limit`), each waited for and sent again. */
let rateLimited = 0;

/**
 * One request as the tenant. A site's RATE_LIMITED refusal (many operations started at once by one
 * caller) is honoured as a client should: wait a second (its Retry-After) and send it again; it acted
 * on nothing (the refusal comes before the request does anything).
 */
async function gql(query, variables = {}, onAttempt = () => undefined) {
  for (;;) {
    onAttempt();
    const res = await lab.gql(query, variables, tokens);
    if (res.errors?.[0]?.extensions?.code === 'RATE_LIMITED') {
      rateLimited++;
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (res.errors?.length) throw new Error(res.errors[0].message);
    return res.data;
  }
}

/**
 * Runs an operation and returns its time from the request to the journal's finish (the gateway and the
 * bench share this machine's clock, so the status polling does not count), with each step's time.
 */
async function timed(label, mutation, pollMs = 100) {
  // From the request the gateway took (a refusal for rate, sent again, does not count).
  let t0 = Date.now();
  const data = await gql(mutation, {}, () => {
    t0 = Date.now();
  });
  const id = Object.values(data)[0].id;
  for (;;) {
    const { operation } = await gql(
      'query($id: ID!) { operation(id: $id) { status finishedAt error { code message } steps { key startedAt finishedAt } } }',
      { id },
    );
    if (['SUCCEEDED', 'FAILED', 'PARTIAL'].includes(operation.status)) {
      if (operation.status !== 'SUCCEEDED')
        throw new Error(
          `${label}: ${operation.status}${operation.error ? ` (${operation.error.code}: ${operation.error.message})` : ''}`,
        );
      const steps = operation.steps.map((s) => ({
        key: s.key,
        startMs: Date.parse(s.startedAt) - t0,
        ms: Date.parse(s.finishedAt) - Date.parse(s.startedAt),
      }));
      return { ms: Date.parse(operation.finishedAt) - t0, steps };
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const results = [];
const OPERATIONS = [
  ['test failover', (pg) => `testFailover(input: { protectionGroup: "${pg}" })`],
  ['test cleanup', (pg) => `testCleanup(input: { protectionGroup: "${pg}" })`],
  ['planned failover', (pg) => `failover(input: { protectionGroup: "${pg}", type: PLANNED })`],
  ['failback', (pg) => `failback(input: { protectionGroup: "${pg}" })`],
];

/** A group of `n` new VMs on boston, protected to seattle, with a complete recovery point. */
async function prepareGroup(pg, n) {
  await gql(`mutation { createProtectionGroup(input: { name: "${pg}", replicationType: ASYNC, primarySite: "boston",
    secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`);
  await gql(`mutation { createReplicationPolicy(input: { protectionGroup: "${pg}", policy: {
    primaryArrayUrl: "${ARRAYS.primary}", primaryArrayToken: "${ARRAYS.token}", secondaryArrayUrl: "${ARRAYS.secondary}",
    secondaryArrayToken: "${ARRAYS.token}", purePgName: "${pg}", replicationIntervalSeconds: 5, rpoMinutes: 5 } }) { id } }`);
  const names = Array.from({ length: n }, (_, i) => `${pg}-vm${i}`);
  // On no network: the lab's tenant network (a /24) has ports for about 240 VMs.
  await mapLimit(names, 16, (name) =>
    bootVm(lab.sites.boston, tokens.boston, name, 'replicated-ssd', 'none'),
  );
  await gql(
    `mutation { addMembers(input: { protectionGroup: "${pg}", servers: ${JSON.stringify(names)} }) { id } }`,
  );
}

/** Waits until each group has a complete recovery point taken after its members joined. */
async function replicated(groups, since) {
  for (const pg of groups) {
    for (;;) {
      const { recoveryPoints } = await gql(
        `{ recoveryPoints(protectionGroup: "${pg}") { complete createdAt } }`,
      );
      if (recoveryPoints.some((p) => p.complete && Date.parse(p.createdAt) > since)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const seconds = (ms) => (ms / 1000).toFixed(2).padStart(7);

/** Runs each operation on all `groups` at once and records the slowest against its bound. */
async function runOperations(label, groups, n) {
  for (const [name, mutation] of OPERATIONS) {
    // Times come from the journal; many groups are asked about less often, to load the gateway less.
    const pollMs = Math.min(1000, 100 * groups.length);
    const refusedBefore = rateLimited;
    const runs = await Promise.all(
      groups.map((pg) => timed(`${name} of ${pg}`, `mutation { op: ${mutation(pg)} { id } }`, pollMs)),
    );
    const slowest = runs.reduce((a, b) => (b.ms > a.ms ? b : a));
    const bound = criticalPathBound(name, n);
    const mean = runs.reduce((a, r) => a + r.ms, 0) / runs.length;
    results.push({
      run: label,
      groups: groups.length,
      vms: n,
      operation: name,
      ms: Math.round(slowest.ms),
      meanMs: Math.round(mean),
      boundMs: bound,
      overheadMs: Math.round(slowest.ms - bound),
      ratio: bound ? Number((slowest.ms / bound).toFixed(3)) : null,
      rateLimitedRetries: rateLimited - refusedBefore,
      steps: slowest.steps,
    });
    console.log(
      `${label.padEnd(22)} ${name.padEnd(17)} ${seconds(slowest.ms)} s   bound ${seconds(bound)} s   over it ${seconds(slowest.ms - bound)} s   ${bound ? `${(slowest.ms / bound).toFixed(2)}x` : ''}`,
    );
    if (rateLimited > refusedBefore)
      console.log(
        `    (${rateLimited - refusedBefore} requests refused for this caller's rate, sent again after 1 s)`,
      );
    if (process.env.BENCH_STEPS)
      console.log(`    ${slowest.steps.map((s) => `${s.key} @${s.startMs} +${s.ms}`).join('  ')}`);
  }
}

try {
  for (const n of SIZES) {
    const pg = `bench-${n}`;
    const t0 = Date.now();
    await prepareGroup(pg, n);
    // A point taken after the last member joined holds them all.
    await replicated([pg], Date.now());
    console.log(`(${pg}: ${n} VMs protected and replicated in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    await runOperations(`1 group of ${n} VMs`, [pg], n);
  }
  if (GROUPS_AT_ONCE > 0) {
    const groups = Array.from({ length: GROUPS_AT_ONCE }, (_, i) => `bench-many-${i}`);
    const t0 = Date.now();
    await mapLimit(groups, 4, (pg) => prepareGroup(pg, GROUP_VMS));
    await replicated(groups, Date.now());
    console.log(
      `(${GROUPS_AT_ONCE} groups of ${GROUP_VMS} VMs protected and replicated in ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
    );
    await runOperations(`${GROUPS_AT_ONCE} groups of ${GROUP_VMS} VMs`, groups, GROUP_VMS);
  }
  console.log(
    `(VM boot time ${BOOT_SECONDS} s, snapshot transfer ${TRANSFER_MS / 1000} s, ${MEMBERS_AT_ONCE} members booted at a time per group; ` +
      "time: from the request to the journal's finish, the slowest group when many run at once; " +
      'bound: the simulated waits on the critical path, see criticalPathBound in bench/rto.mjs)',
  );
  writeResult('rto', {
    bench: 'rto',
    date: new Date().toISOString(),
    machine: machine(),
    settings: {
      vms: SIZES,
      groupsAtOnce: GROUPS_AT_ONCE,
      groupVms: GROUP_VMS,
      bootSeconds: BOOT_SECONDS,
      transferMs: TRANSFER_MS,
      recoveryConcurrency: MEMBERS_AT_ONCE,
      storage: STORAGE,
    },
    runs: results,
  });
} finally {
  await lab.stop();
  if (process.env.BENCH_KEEP === '1') console.log(`(the lab's folder, logs and databases kept: ${dir})`);
  else rmSync(dir, { recursive: true, force: true });
}
