// bench:site — the site floor: the queries a gateway sends, straight at one site service (boston's
// subgraph URL, with boston's tokens), under the same closed-loop load and dataset as bench:gateway.
// Reports the site's CPU per request (from /proc/<pid>/stat) and, in a separate pass, the SQL
// statements per request. Prints a table and writes bench/results/site.json. Asserts nothing.
//
// Run: npm run bench:site   (builds first)
// Before the runs of each size the bench waits until the sites are quiet (each reads every group from
// its arrays once at start).
//
// Environment (defaults in brackets):
//   BENCH_GROUPS [1000,10000]  BENCH_MEMBERS [10]  BENCH_SECONDS [20]  BENCH_WARMUP_SECONDS [3]
//   BENCH_TIMEOUT_SECONDS [120]
//   BENCH_CONCURRENCY [50]     BENCH_PAGE [50]     BENCH_FULL_PAGE [500]
//   BENCH_QUERIES [site-only,list,entities]
//   BENCH_IDLE_SAMPLE_SECONDS [5]  how long the site's background CPU is read before each size's runs
//   BENCH_SQL_COUNT [1]        0: no SQL statement count (and no counter loaded into the lab's processes);
//                              BENCH_SQL_REQUESTS [20] requests per query in the counting pass
//   BENCH_HEALTH_INTERVAL [10] BENCH_STORAGE [fa-sim]  BENCH_REPLICATE [0]  BENCH_KEEP [0]   (as bench:gateway)
//
// SQL statements are counted by a preload (lib/sql-count.mjs) that every process of the lab starts with
// (the site has no statement counter or query log of its own): it wraps better-sqlite3's statement
// methods with a counter, which costs a function call per statement. After the timed runs, each query
// is sent BENCH_SQL_REQUESTS times, one at a time, marked with a header, and the statements the site
// ran while serving the marked requests are divided by their number.
//
// CPU ms per request is the site process's CPU time during the measured run divided by the requests
// answered; it includes what the site did in the background meanwhile (replication monitor, the
// gateway's health checks, the mock arrays' timer), which the "idle %" column shows on its own.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  envChoice,
  envList,
  envNumber,
  envWords,
  fixed,
  machine,
  printTable,
  ROOT,
  requireBuild,
  sleep,
  treeStat,
  writeResult,
} from './lib/common.mjs';

requireBuild();

const QUERIES_ALL = ['site-only', 'list', 'entities'];
const settings = {
  groups: envList('BENCH_GROUPS', [1000, 10000]),
  members: envNumber('BENCH_MEMBERS', 10),
  seconds: envNumber('BENCH_SECONDS', 20),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3),
  timeoutSeconds: envNumber('BENCH_TIMEOUT_SECONDS', 120),
  concurrency: envNumber('BENCH_CONCURRENCY', 50),
  page: envNumber('BENCH_PAGE', 50),
  fullPage: envNumber('BENCH_FULL_PAGE', 500),
  queries: envWords('BENCH_QUERIES', QUERIES_ALL, QUERIES_ALL),
  idleSampleSeconds: envNumber('BENCH_IDLE_SAMPLE_SECONDS', 5),
  sqlCount: envNumber('BENCH_SQL_COUNT', 1) === 1,
  sqlRequests: envNumber('BENCH_SQL_REQUESTS', 20),
  healthIntervalSeconds: envNumber('BENCH_HEALTH_INTERVAL', 10),
  storage: envChoice('BENCH_STORAGE', ['fa-sim', 'mock'], 'fa-sim'),
  replicate: envNumber('BENCH_REPLICATE', 0) === 1,
  site: 'boston',
};

const { clientTokens, labPid, removeOnInterrupt, withDatasets } = await import('./lib/lab.mjs');
const { ENTITIES_AT_SITE, LIST_AT_SITE, SITE_ONLY_AT_SITE, summarize } = await import('./lib/queries.mjs');
const { measuredRun } = await import('./lib/run.mjs');
const { fetch } = await import('undici');

const dir = mkdtempSync(join(tmpdir(), 'bench-site-'));
removeOnInterrupt(dir);
const countDir = join(dir, 'sql-count');
if (settings.sqlCount) {
  // Every process of the lab starts with the statement counter preloaded (see lib/sql-count.mjs).
  mkdirSync(countDir, { recursive: true });
  process.env.NODE_OPTIONS =
    `${process.env.NODE_OPTIONS ?? ''} --import=${join(ROOT, 'bench', 'lib', 'sql-count.mjs')}`.trim();
  process.env.BENCH_SQL_COUNT_DIR = countDir;
}
const rows = [];
const datasets = [];
let failures = [];
const started = new Date();
const host = machine(); // before the lab starts: the load average says how busy the machine was already
const SITE = settings.site;
console.log(
  `bench:site: site ${SITE}; queries ${settings.queries.join(', ')}; ${settings.concurrency} clients, ${settings.seconds} s each ` +
    `(+${settings.warmupSeconds} s warm-up); groups ${settings.groups.join(', ')} x ${settings.members} members; lab in ${dir}`,
);

/** The ids of the first `n` groups by name, as the site lists them: the representations of `entities`. */
async function firstIds(url, token, n) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-auth-token': token },
    body: JSON.stringify({ query: `{ ${SITE} { protectionGroupReplicas(first: ${n}) { nodes { id } } } }` }),
  });
  const json = await res.json();
  if (json.errors?.length) throw new Error(`listing group ids: ${json.errors[0].message}`);
  return json.data[SITE].protectionGroupReplicas.nodes.map((x) => x.id);
}

/** Sends `n` requests one after another with `x-bench-count`; returns the site's statement counts. */
async function countStatements(lab, body, n, token, countDir) {
  const site = lab.sites[SITE];
  const pid = labPid(lab, SITE);
  const snapshot = async () => {
    const file = join(countDir, `sql-${pid}.json`);
    rmSync(file, { force: true });
    process.kill(pid, 'SIGUSR2');
    for (let i = 0; i < 100; i++) {
      try {
        return JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`the site wrote no statement count to ${file}`);
  };
  const before = await snapshot();
  for (let i = 0; i < n; i++) {
    const res = await fetch(site.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token, 'x-bench-count': '1' },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (json.errors?.length) throw new Error(`SQL count pass: ${json.errors[0].message}`);
  }
  const after = await snapshot();
  const per = (bucket) =>
    Object.fromEntries(
      Object.entries(after[bucket]).map(([file, v]) => [
        file.split('/').slice(-2).join('/'),
        (v - (before[bucket][file] ?? 0)) / n,
      ]),
    );
  return { requests: after.requests - before.requests, perRequest: per('inRequest') };
}

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
      let tokens = await clientTokens(lab, settings.concurrency);
      const url = lab.sites[SITE].url;
      const ids = await firstIds(url, tokens[0][SITE], settings.fullPage);
      const QUERY = {
        'site-only': {
          body: { query: SITE_ONLY_AT_SITE, variables: { first: settings.page } },
          summarize: summarize.siteOnlyAtSite,
          page: settings.page,
        },
        list: {
          body: { query: LIST_AT_SITE, variables: { first: settings.fullPage } },
          summarize: summarize.listAtSite,
          page: settings.fullPage,
        },
        entities: {
          body: {
            query: ENTITIES_AT_SITE,
            variables: { representations: ids.map((id) => ({ __typename: 'ProtectionGroup', id })) },
          },
          summarize: summarize.entitiesAtSite,
          page: ids.length,
        },
      };

      // The site's background CPU, with no client: monitor, health checks, array timer.
      const pid = labPid(lab, SITE);
      const idle0 = treeStat(pid).cpuMs;
      await sleep(settings.idleSampleSeconds * 1000);
      const idlePct = ((treeStat(pid).cpuMs - idle0) / (settings.idleSampleSeconds * 1000)) * 100;
      const dataset = { groups: size, members: settings.members, ...info, siteIdleCpuPct: idlePct };
      datasets.push(dataset);

      const sizeRows = [];
      for (const q of settings.queries) {
        const query = QUERY[q];
        // Fresh tokens for each run: a site keeps a validated token 300 s ([keystone_authtoken]
        // token_cache_time), and one validated again under load waits for the Keystone inside the site.
        tokens = await clientTokens(lab, settings.concurrency);
        const r = await measuredRun({
          url,
          concurrency: settings.concurrency,
          durationMs: settings.seconds * 1000,
          warmupMs: settings.warmupSeconds * 1000,
          timeoutMs: settings.timeoutSeconds * 1000,
          prime: (n) => ({
            headers: { 'x-auth-token': tokens[n][SITE] },
            body: { query: `{ ${SITE} { key } }` },
          }),
          request: (n) => ({ headers: { 'x-auth-token': tokens[n][SITE] }, body: query.body }),
          summarize: query.summarize,
          pids: { site: pid },
        });
        const row = {
          groups: size,
          query: q,
          page: query.page,
          siteIdleCpuPct: idlePct,
          ...r,
          sqlPerRequest: null,
        };
        rows.push(row);
        sizeRows.push(row);
        console.log(
          `groups=${size} ${q.padEnd(9)} ${fixed(r.rps).padStart(7)} req/s  p50 ${fixed(r.p50Ms, 0)} ms  p99 ${fixed(r.p99Ms, 0)} ms  ` +
            `site CPU ${fixed(r.cpuMsPerRequest.site, 2)} ms/req  errors ${r.error}  partial ${r.partial}  answered ${JSON.stringify(r.answered)}${r.errorSamples.length ? `  first problem: ${r.errorSamples[0]}` : ''}` +
            `\n    alone: ${r.alone.ms} ms, ${r.alone.error ?? JSON.stringify(r.alone.answered)}`,
        );
      }

      if (settings.sqlCount) {
        // The counting pass, after the timed runs: requests one at a time, marked for the counter.
        for (const row of sizeRows) {
          const c = await countStatements(
            lab,
            QUERY[row.query].body,
            settings.sqlRequests,
            tokens[0][SITE],
            countDir,
          );
          row.sqlPerRequest = c.perRequest;
          row.sqlSitePerRequest = Object.entries(c.perRequest)
            .filter(([file]) => file.endsWith('protector-site.sqlite'))
            .reduce((a, [, v]) => a + v, 0);
          console.log(
            `groups=${size} ${row.query.padEnd(9)} SQL statements per request: ${JSON.stringify(c.perRequest)}`,
          );
        }
      }
    },
  });
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
}

printTable(
  `Site floor (${SITE} alone), ${settings.concurrency} clients, ${settings.seconds} s each (${started.toISOString().slice(0, 10)})`,
  [
    ['groups', 'groups'],
    ['query', 'query', 'left'],
    ['page', 'page'],
    ['req/s', (r) => fixed(r.rps)],
    ['complete/s', (r) => fixed(r.completeRps)],
    ['p50 ms', (r) => fixed(r.p50Ms, 0)],
    ['p99 ms', (r) => fixed(r.p99Ms, 0)],
    ['errors', 'error'],
    ['partial', 'partial'],
    ['empty', 'empty'],
    ['site CPU ms/req', (r) => fixed(r.cpuMsPerRequest.site, 2)],
    ['site idle %', (r) => fixed(r.siteIdleCpuPct, 1)],
    ['SQL/req', (r) => (r.sqlSitePerRequest === undefined ? 'not measured' : fixed(r.sqlSitePerRequest, 0))],
    ['site RSS MiB', (r) => r.rssMiB.site],
    ['host busy %', (r) => fixed(r.hostBusyPct, 0)],
  ],
  rows,
);
for (const r of rows.filter((x) => x.errorSamples.length))
  console.log(`  ${r.groups} ${r.query}: ${r.errorSamples.join(' | ')}`);

for (const f of failures) console.log(`  ${f.groups} groups: the lab did not start (${f.error})`);
writeResult('site', {
  failures,
  bench: 'site',
  date: started.toISOString(),
  machine: { ...host, loadAverageAtEnd: machine().loadAverage },
  settings,
  datasets,
  runs: rows,
});
