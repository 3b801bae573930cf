// bench:idle — what the lab's processes burn with no client at all, for 10, 1k and 10k Protection
// Groups whose arrays replicate every 30 s (the lab's default policy, as the demo group's). CPU is read
// from /proc/<pid>/stat every few seconds and shown as % of one core: the mean over the window and
// the highest sample. Prints a table and writes bench/results/idle.json. Asserts nothing.
//
// Run: npm run bench:idle   (builds first)
// Environment (defaults in brackets):
//   BENCH_GROUPS [10,1000,10000]   dataset sizes
//   BENCH_MEMBERS [1]              members per group (one volume each). One: a site's idle work is per group
//                                  (its monitor asks the arrays about each group), the array simulator's
//                                  per volume (a snapshot of each, every 30 s); with 10 volumes a group,
//                                  fa-sim already needs a whole core at 1k groups and the lab does not
//                                  start at 10k
//   BENCH_IDLE_SECONDS [120]       measured window per size
//   BENCH_IDLE_WARMUP_SECONDS [30] unmeasured time after the lab starts (start-up, first monitor rounds)
//   BENCH_IDLE_SAMPLE_SECONDS [5]  sampling period
//   BENCH_HEALTH_INTERVAL [10]     the gateway's [gateway] health_interval (the product default)
//   BENCH_MONITOR_INTERVAL [2]     each site's replication_monitor_interval (the lab's; the product default is 10)
//   BENCH_STORAGE [fa-sim]         fa-sim: the arrays are simulated in their own process (the FlashArray
//                                  REST simulator, reached over HTTPS by the pure driver), so a site's CPU
//                                  is the site's alone; mock: inside both site processes (the lab's
//                                  default; a site's CPU then includes the array simulation, and at 10k
//                                  groups the lab does not start)
//   BENCH_REPLICATE [1]            0: the arrays take no snapshot (schedules off): the sites' and the
//                                  gateway's polling alone, without the simulator's replication work
//   BENCH_KEEP [0]
//
// What runs meanwhile: each site's replication monitor (every 2 s in the lab's site config; the
// product default is 10 s), the gateway's health checks of both sites, and the arrays' schedules
// (each group's snapshot every 30 s, spread over the interval, then its transfer).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  envChoice,
  envList,
  envNumber,
  fixed,
  hostBusyPct,
  hostCpu,
  machine,
  printTable,
  requireBuild,
  sleep,
  treeStat,
  writeResult,
} from './lib/common.mjs';

requireBuild();

const settings = {
  groups: envList('BENCH_GROUPS', [10, 1000, 10000]),
  members: envNumber('BENCH_MEMBERS', 1),
  seconds: envNumber('BENCH_IDLE_SECONDS', 120),
  warmupSeconds: envNumber('BENCH_IDLE_WARMUP_SECONDS', 30),
  sampleSeconds: envNumber('BENCH_IDLE_SAMPLE_SECONDS', 5),
  healthIntervalSeconds: envNumber('BENCH_HEALTH_INTERVAL', 10),
  monitorIntervalSeconds: envNumber('BENCH_MONITOR_INTERVAL', 2),
  storage: envChoice('BENCH_STORAGE', ['fa-sim', 'mock'], 'fa-sim'),
  replicationIntervalSeconds: 30,
  replicate: envNumber('BENCH_REPLICATE', 1) === 1,
};

const { labPid, removeOnInterrupt, withDatasets } = await import('./lib/lab.mjs');
const { default: Database } = await import('better-sqlite3');

/** The fa-sim process among our children, if the lab runs one. */
function faSimPid() {
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8').trim();
    } catch {
      continue;
    }
    for (const pid of kids ? kids.split(/\s+/).map(Number) : []) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fa-sim')) return pid;
      } catch {
        // gone
      }
    }
  }
  return null;
}

/** What replication did in the window: snapshots taken and transfers completed, groups stamped per site. */
function replicationDone(lab, since) {
  const adb = new Database(lab.arrayStoreFile, { readonly: true });
  adb.pragma('busy_timeout = 10000');
  let taken;
  let completed;
  try {
    taken = adb
      .prepare('SELECT COUNT(*) AS n FROM pgroup_snaps WHERE array = source_array AND created >= ?')
      .get(since).n;
    completed = adb
      .prepare('SELECT COUNT(*) AS n FROM pgroup_snaps WHERE array <> source_array AND completed >= ?')
      .get(since).n;
  } finally {
    adb.close();
  }
  const stamp = new Date(since).toISOString().replace('T', ' ').replace('Z', '');
  const stamped = {};
  for (const site of Object.keys(lab.sites)) {
    const db = new Database(join(lab.dir, site, 'protector-site.sqlite'), { readonly: true });
    db.pragma('busy_timeout = 10000');
    try {
      stamped[site] = db
        .prepare('SELECT COUNT(*) AS n FROM protection_group_replica WHERE last_replication_at >= ?')
        .get(stamp).n;
    } finally {
      db.close();
    }
  }
  return { snapshotsTaken: taken, transfersCompleted: completed, groupsWithNewLastReplicationAt: stamped };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-idle-'));
removeOnInterrupt(dir);
const rows = [];
let failures = [];
const started = new Date();
const host = machine(); // before the lab starts: the load average says how busy the machine was already
console.log(
  `bench:idle: groups ${settings.groups.join(', ')} x ${settings.members} members, replicating every ${settings.replicationIntervalSeconds} s; ` +
    `${settings.seconds} s measured per size after ${settings.warmupSeconds} s; arrays: ${settings.storage}; lab in ${dir}`,
);

try {
  failures = await withDatasets({
    labOptions: {
      dir,
      gatewayPort: 0,
      demo: false,
      healthIntervalSeconds: settings.healthIntervalSeconds,
      monitorIntervalSeconds: settings.monitorIntervalSeconds,
      replicationIntervalSeconds: settings.replicationIntervalSeconds,
      storage: settings.storage,
    },
    sizes: settings.groups,
    members: settings.members,
    replicate: settings.replicate,
    run: async (lab, size, info) => {
      const pids = {
        boston: labPid(lab, 'boston'),
        seattle: labPid(lab, 'seattle'),
        gateway: labPid(lab, 'gateway'),
      };
      const fa = faSimPid();
      if (fa) pids['fa-sim'] = fa;
      await sleep(settings.warmupSeconds * 1000);
      const t0 = Date.now();
      const host0 = hostCpu();
      const first = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, treeStat(pid).cpuMs]));
      const prev = { ...first };
      const peaks = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
      const samples = [];
      const end = t0 + settings.seconds * 1000;
      let last = t0;
      while (Date.now() < end) {
        await sleep(Math.min(settings.sampleSeconds * 1000, end - Date.now()));
        const now = Date.now();
        const sample = { t: (now - t0) / 1000 };
        for (const [k, pid] of Object.entries(pids)) {
          const cpu = treeStat(pid).cpuMs;
          const pct = ((cpu - prev[k]) / (now - last)) * 100;
          sample[k] = Number(pct.toFixed(1));
          peaks[k] = Math.max(peaks[k], pct);
          prev[k] = cpu;
        }
        samples.push(sample);
        last = now;
      }
      const elapsed = Date.now() - t0;
      const host1 = hostCpu();
      const done = replicationDone(lab, t0);
      for (const [k, pid] of Object.entries(pids)) {
        const meanPct = ((prev[k] - first[k]) / elapsed) * 100;
        const rssMiB = Math.round(treeStat(pid).rssBytes / 2 ** 20);
        rows.push({
          groups: size,
          members: settings.members,
          process: k,
          meanCpuPct: meanPct,
          peakSampleCpuPct: peaks[k],
          rssMiB,
          windowSeconds: elapsed / 1000,
          hostBusyPct: hostBusyPct(host0, host1),
          replication: done,
          dataset: info,
          samples: samples.map((s) => ({ t: s.t, pct: s[k] })),
        });
        console.log(
          `groups=${size} ${k.padEnd(8)} mean ${fixed(meanPct).padStart(6)} % of a core  peak ${fixed(peaks[k]).padStart(6)} %  RSS ${rssMiB} MiB`,
        );
      }
      console.log(`groups=${size} replication in the window: ${JSON.stringify(done)}`);
    },
  });
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
}

printTable(
  `Idle CPU (no clients), % of one core, ${settings.seconds} s per size, ${settings.replicate ? `groups replicating every ${settings.replicationIntervalSeconds} s` : 'array schedules off'}, arrays: ${settings.storage} (${started.toISOString().slice(0, 10)})`,
  [
    ['groups', 'groups'],
    ['process', 'process', 'left'],
    ['mean %', (r) => fixed(r.meanCpuPct)],
    [`peak ${settings.sampleSeconds}s %`, (r) => fixed(r.peakSampleCpuPct)],
    ['RSS MiB', 'rssMiB'],
    ['snapshots', (r) => r.replication.snapshotsTaken],
    ['transfers done', (r) => r.replication.transfersCompleted],
    ['host busy %', (r) => fixed(r.hostBusyPct, 0)],
  ],
  rows,
);

for (const f of failures) console.log(`  ${f.groups} groups: the lab did not start (${f.error})`);
writeResult(settings.replicate ? 'idle' : 'idle-no-snapshots', {
  failures,
  bench: 'idle',
  date: started.toISOString(),
  machine: { ...host, loadAverageAtEnd: machine().loadAverage },
  settings,
  runs: rows,
});
