// bench:gateway — our gateway next to a bare Apollo Gateway and Hive Gateway, over the same two site
// services of the lab, under the same closed-loop load. Prints a table and writes
// bench/results/gateway.json. Measures; asserts nothing.
//
// Run: npm run bench:gateway   (builds first)
// Before the first run of each size the bench waits until both sites are quiet (each reads every group
// from its arrays once at start), and that run's warm-up is longer (BENCH_FIRST_WARMUP_SECONDS):
// otherwise whichever target runs first pays for the sites' start (see docs/performance.md, section a).
//
// Environment (defaults in brackets):
//   BENCH_GROUPS [1000,10000]   dataset sizes, in Protection Groups (each size is a run of every target)
//   BENCH_MEMBERS [10]          members per group (one volume each)
//   BENCH_SECONDS [20]          measured seconds per target and query
//   BENCH_WARMUP_SECONDS [3]    unmeasured load before each measured run
//   BENCH_FIRST_WARMUP_SECONDS [20]  ... before each target's first run of each dataset size
//   BENCH_TIMEOUT_SECONDS [120] a request unanswered after this long counts as an error (timeout)
//   BENCH_CONCURRENCY [50]      concurrent clients, each with its own Keystone tokens
//   BENCH_CALLERS [1]           distinct users of the demo project among them (client n is user n mod
//                               BENCH_CALLERS): one user's identical requests in flight may be merged
//                               by a gateway, different users' never
//   BENCH_PAGE [50]             page size of the site-only query
//   BENCH_FULL_PAGE [500]       page size of the full list and replicas+peer queries (500: the API's maximum)
//   BENCH_TARGETS [protector,apollo-gateway,hive-gateway]
//   BENCH_QUERIES [site-only,replicas+peer,full]   (full runs on our gateway only: it needs the coordinator)
//   BENCH_HEALTH_INTERVAL [10]  the gateway's [gateway] health_interval, seconds (the product default)
//   BENCH_STORAGE [fa-sim]      the lab's arrays: fa-sim (the FlashArray REST simulator, its own process,
//                               reached over HTTPS by the pure driver) or mock (simulated inside both
//                               site processes on one shared SQLite file; at 10k groups the sites then
//                               stall on that file so long that the lab cannot register them)
//   BENCH_REPLICATE [0]         1: the arrays take every group's scheduled snapshots during the runs
//   BENCH_KEEP [0]              1: keep the lab folder (/tmp/bench-gateway-*) afterwards
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  envChoice,
  envList,
  envNumber,
  envWords,
  fixed,
  machine,
  packageVersion,
  printTable,
  requireBuild,
  requirePackage,
  writeResult,
} from './lib/common.mjs';

requireBuild();
requirePackage('@apollo/gateway');
requirePackage('@graphql-hive/gateway');

const TARGETS_ALL = ['protector', 'apollo-gateway', 'hive-gateway'];
const QUERIES_ALL = ['site-only', 'replicas+peer', 'full'];
const settings = {
  groups: envList('BENCH_GROUPS', [1000, 10000]),
  members: envNumber('BENCH_MEMBERS', 10),
  seconds: envNumber('BENCH_SECONDS', 20),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3),
  firstWarmupSeconds: envNumber('BENCH_FIRST_WARMUP_SECONDS', 20),
  timeoutSeconds: envNumber('BENCH_TIMEOUT_SECONDS', 120),
  concurrency: envNumber('BENCH_CONCURRENCY', 50),
  callers: envNumber('BENCH_CALLERS', 1),
  page: envNumber('BENCH_PAGE', 50),
  fullPage: envNumber('BENCH_FULL_PAGE', 500),
  targets: envWords('BENCH_TARGETS', TARGETS_ALL, TARGETS_ALL),
  queries: envWords('BENCH_QUERIES', QUERIES_ALL, QUERIES_ALL),
  healthIntervalSeconds: envNumber('BENCH_HEALTH_INTERVAL', 10),
  storage: envChoice('BENCH_STORAGE', ['fa-sim', 'mock'], 'fa-sim'),
  replicate: envNumber('BENCH_REPLICATE', 0) === 1,
};

if (!Number.isInteger(settings.callers) || settings.callers < 1)
  throw new Error(`BENCH_CALLERS=${settings.callers}: give a whole number of users, 1 or more`);

const { clientTokens, demoProjectUsers, labPid, onInterrupt, removeOnInterrupt, withDatasets } = await import(
  './lib/lab.mjs'
);
const { startPeers } = await import('./lib/peers.mjs');
const { FULL, REPLICAS_PEER, SITE_ONLY, summarize } = await import('./lib/queries.mjs');
const { measuredRun } = await import('./lib/run.mjs');

const QUERY = {
  'site-only': { document: SITE_ONLY, first: settings.page, summarize: summarize.siteOnly },
  'replicas+peer': { document: REPLICAS_PEER, first: settings.fullPage, summarize: summarize.replicasPeer },
  full: { document: FULL, first: settings.fullPage, summarize: summarize.full, protectorOnly: true },
};

const dir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
removeOnInterrupt(dir);
const rows = [];
const datasets = [];
let failures = [];
const started = new Date();
const host = machine(); // before the lab starts: the load average says how busy the machine was already
console.log(
  `bench:gateway: ${settings.targets.join(', ')}; queries ${settings.queries.join(', ')}; ${settings.concurrency} clients ` +
    `(${settings.callers} distinct users), ` +
    `${settings.seconds} s each (+${settings.warmupSeconds} s warm-up); groups ${settings.groups.join(', ')} x ${settings.members} members; lab in ${dir}`,
);

try {
  failures = await withDatasets({
    settle: true,
    labOptions: {
      dir,
      gatewayPort: 0,
      demo: false,
      healthIntervalSeconds: settings.healthIntervalSeconds,
      storage: settings.storage,
    },
    sizes: settings.groups,
    members: settings.members,
    replicate: settings.replicate,
    run: async (lab, size, info) => {
      datasets.push({ groups: size, members: settings.members, ...info });
      const users = await demoProjectUsers(lab, settings.callers);
      let tokens = await clientTokens(lab, settings.concurrency, users);
      const peers = await startPeers(
        lab,
        settings.targets.filter((t) => t !== 'protector'),
      );
      const offPeers = onInterrupt(() => Promise.all(peers.map((p) => p.process.stop(10_000))));
      try {
        const targets = [];
        if (settings.targets.includes('protector'))
          targets.push({ name: 'protector', url: lab.gatewayUrl, pid: labPid(lab, 'gateway') });
        for (const p of peers) targets.push({ name: p.name, url: p.url, pid: p.process.child.pid });
        const headersOf = (n) => ({
          'x-site-token-boston': tokens[n].boston,
          'x-site-token-seattle': tokens[n].seattle,
        });
        for (const q of settings.queries) {
          const query = QUERY[q];
          for (const target of targets) {
            if (query.protectorOnly && target.name !== 'protector') continue;
            // Fresh tokens for each run: a site keeps a validated token 300 s ([keystone_authtoken]
            // token_cache_time), and one validated again under load waits for the Keystone inside the site.
            tokens = await clientTokens(lab, settings.concurrency, users);
            const r = await measuredRun({
              url: target.url,
              concurrency: settings.concurrency,
              durationMs: settings.seconds * 1000,
              // Each target's first run of a size warms the sites up too (their heaps grow to what that
              // target's load needs, hot paths compile): a longer warm-up, or whichever target loads the
              // sites first pays for it (a gateway that merges requests leaves them cold for the next).
              warmupMs:
                (rows.some((r) => r.groups === size && r.target === target.name)
                  ? settings.warmupSeconds
                  : settings.firstWarmupSeconds) * 1000,
              timeoutMs: settings.timeoutSeconds * 1000,
              prime: (n) => ({
                headers: headersOf(n),
                body: { query: '{ boston { key } seattle { key } }' },
              }),
              request: (n) => ({
                headers: headersOf(n),
                body: { query: query.document, variables: { first: query.first } },
              }),
              summarize: query.summarize,
              pids: { gateway: target.pid, boston: labPid(lab, 'boston'), seattle: labPid(lab, 'seattle') },
            });
            const row = { groups: size, query: q, target: target.name, page: query.first, ...r };
            rows.push(row);
            console.log(
              `groups=${size} ${q.padEnd(13)} ${target.name.padEnd(14)} ${fixed(r.rps).padStart(7)} req/s  p50 ${fixed(r.p50Ms, 0)} ms  p99 ${fixed(r.p99Ms, 0)} ms  ` +
                `errors ${r.error}  partial ${r.partial}  empty ${r.empty}  answered ${JSON.stringify(r.answered)}${r.errorSamples.length ? `  first problem: ${r.errorSamples[0]}` : ''}` +
                `\n    alone: ${r.alone.ms} ms, ${r.alone.error ?? JSON.stringify(r.alone.answered)}`,
            );
          }
        }
      } finally {
        offPeers();
        await Promise.all(peers.map((p) => p.process.stop(10_000)));
      }
    },
  });
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
}

printTable(
  `Gateways, ${settings.concurrency} clients (${settings.callers} users), ${settings.seconds} s each (${started.toISOString().slice(0, 10)})`,
  [
    ['groups', 'groups'],
    ['query', 'query', 'left'],
    ['target', 'target', 'left'],
    ['req/s', (r) => fixed(r.rps)],
    ['complete/s', (r) => fixed(r.completeRps)],
    ['p50 ms', (r) => fixed(r.p50Ms, 0)],
    ['p99 ms', (r) => fixed(r.p99Ms, 0)],
    ['errors', 'error'],
    ['partial', 'partial'],
    ['empty', 'empty'],
    ['groups/answer', (r) => r.answered?.groups ?? null],
    ['gw CPU ms/req', (r) => fixed(r.cpuMsPerRequest.gateway, 2)],
    ['sites CPU ms/req', (r) => fixed((r.cpuMsPerRequest.boston ?? 0) + (r.cpuMsPerRequest.seattle ?? 0), 2)],
    ['gw RSS MiB', (r) => r.rssMiB.gateway],
    ['host busy %', (r) => fixed(r.hostBusyPct, 0)],
  ],
  rows,
);
const samples = rows.filter((r) => r.errorSamples.length);
for (const r of samples) console.log(`  ${r.groups} ${r.query} ${r.target}: ${r.errorSamples.join(' | ')}`);

for (const f of failures) console.log(`  ${f.groups} groups: the lab did not start (${f.error})`);
writeResult('gateway', {
  failures,
  bench: 'gateway',
  date: started.toISOString(),
  machine: { ...host, loadAverageAtEnd: machine().loadAverage },
  versions: {
    '@apollo/gateway': packageVersion('@apollo/gateway'),
    '@graphql-hive/gateway': packageVersion('@graphql-hive/gateway'),
    '@graphql-hive/gateway-runtime': packageVersion('@graphql-hive/gateway-runtime'),
  },
  settings,
  datasets,
  runs: rows,
});
