// bench:subscriptions — N graphql-ws subscribers to a group's operation progress during a test failover
// of the lab's demo group: how late each event reaches them (receive time minus the event's
// occurredAt), what each subscriber costs the gateway in memory (RSS growth / N), and how long the
// failover takes next to the same failover with no subscriber. Beside them, the floor of this machine:
// the same frames at the same times, to as many connections, from a bare `ws` server that serialises
// each once (`lib/ws-floor.mjs`; no GraphQL, no checks), and the RSS of each of its connections.
// Prints a table and writes bench/results/subscriptions.json. Asserts nothing.
//
// Run: npm run bench:subscriptions   (builds first)
// Environment (defaults in brackets):
//   BENCH_SUBSCRIBERS [10000]       subscribers, each its own WebSocket connection
//   BENCH_SUBSCRIBER_TOKENS [100]   distinct sets of the tenant's Keystone tokens they share (as 100
//                                   sign-ins with 100 dashboards each); the gateway's rate limit
//                                   (100/s per set of tokens, burst 200) counts WebSocket upgrades
//   BENCH_CALLERS [1]               distinct users of the demo project the token sets belong to (set n
//                                   is user n mod BENCH_CALLERS): the gateway executes an event once
//                                   per user (and selection), whatever the number of token sets
//   BENCH_CONNECT_BATCH [250]       connections opened at once
//   BENCH_SETTLE_SECONDS [5]        wait after the last subscription before starting the failover
//   BENCH_BOOT_SECONDS [2]          simulated VM boot time
//   BENCH_KEEP [0]
//
// The subscription is `operationEvents(protectionGroup: "prod-web-app")`, with the selection of the
// playground's OperationProgress tab. It carries the same OperationEvent records as
// `operationProgress(id)`, from the same fan-out, but can be opened before the operation exists:
// `operationProgress` needs the operation's id, which exists only once the failover has started, and
// 10k subscribers cannot connect within a failover of a few seconds.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  envNumber,
  fixed,
  machine,
  printTable,
  requireBuild,
  sleep,
  treeStat,
  writeResult,
} from './lib/common.mjs';

requireBuild();

const settings = {
  subscribers: envNumber('BENCH_SUBSCRIBERS', 10_000),
  tokenSets: envNumber('BENCH_SUBSCRIBER_TOKENS', 100),
  callers: envNumber('BENCH_CALLERS', 1),
  connectBatch: envNumber('BENCH_CONNECT_BATCH', 250),
  settleSeconds: envNumber('BENCH_SETTLE_SECONDS', 5),
  bootSeconds: envNumber('BENCH_BOOT_SECONDS', 2),
  group: 'prod-web-app',
};

const { waitForReplication } = await import('../test/dist/lab.js');
const { clientTokens, demoProjectUsers, labPid, openLab, removeOnInterrupt } = await import('./lib/lab.mjs');
const { percentile } = await import('./lib/load.mjs');
const { default: WebSocket } = await import('ws');
const { OCCURRED_AT } = await import('./lib/ws-floor.mjs');

const SUBSCRIPTION = `subscription Progress($pg: ID) {
  operationEvents(protectionGroup: $pg) {
    sequence kind occurredAt status percentComplete
    step { name status site { name } }
    member { memberName status }
    message
  }
}`;
const TERMINAL = ['SUCCEEDED', 'FAILED', 'PARTIAL', 'CANCELLED'];

/** One subscriber: its socket, and every message it got with the time it got it. */
function subscribe(wsUrl, tokens) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws', {
      headers: Object.fromEntries(Object.entries(tokens).map(([k, v]) => [`x-site-token-${k}`, v])),
    });
    const sub = { ws, received: [], done: false, error: null };
    const timer = setTimeout(() => reject(new Error('no connection_ack within 60 s')), 60_000);
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'connection_init', payload: { siteTokens: tokens } })),
    );
    ws.on('message', (data) => {
      const at = Date.now();
      const text = data.toString();
      if (text.includes('"connection_ack"')) {
        clearTimeout(timer);
        ws.send(
          JSON.stringify({
            id: '1',
            type: 'subscribe',
            payload: { query: SUBSCRIPTION, variables: { pg: settings.group } },
          }),
        );
        resolve(sub);
        return;
      }
      if (text.includes('"ping"')) {
        ws.send(JSON.stringify({ type: 'pong' }));
        return;
      }
      sub.received.push([at, text]);
      if (TERMINAL.some((s) => text.includes(`"status":"${s}"`)) && text.includes('"kind":"STATUS_CHANGED"'))
        sub.done = true;
    });
    ws.on('error', (err) => {
      sub.error = err.message;
      clearTimeout(timer);
      reject(err);
    });
    ws.on('close', (code) => {
      if (!sub.done && !sub.error) sub.error = `closed (${code})`;
    });
  });
}

/** Delivery latency of every event every subscriber got (receive time minus the event's occurredAt). */
function analyse(subscribers) {
  const latencies = [];
  // Per event: how late its first and its last subscriber got it (the fan-out's own length is the gap).
  const bySequence = {};
  const perSubscriber = [];
  let lastDelivery = 0;
  let errorsInEvents = 0;
  const eventErrorSamples = [];
  const endings = {};
  for (const s of subscribers) {
    let n = 0;
    for (const [at, text] of s.received) {
      const msg = JSON.parse(text);
      if (msg.type === 'error' || msg.type === 'complete') endings[msg.type] = (endings[msg.type] ?? 0) + 1;
      if (msg.type !== 'next') continue;
      if (msg.payload?.errors?.length) {
        errorsInEvents++;
        const e = msg.payload.errors[0];
        const what = `${e.message}${e.extensions?.code ? ` (${e.extensions.code})` : ''}`;
        if (eventErrorSamples.length < 5 && !eventErrorSamples.includes(what)) eventErrorSamples.push(what);
      }
      const event = msg.payload?.data?.operationEvents;
      const occurredAt = Date.parse(event?.occurredAt ?? '');
      if (Number.isFinite(occurredAt)) {
        latencies.push(at - occurredAt);
        const key = `${event.sequence} ${event.kind}`;
        bySequence[key] ??= [];
        bySequence[key].push(at - occurredAt);
      }
      lastDelivery = Math.max(lastDelivery, at);
      n++;
    }
    perSubscriber.push(n);
  }
  latencies.sort((a, b) => a - b);
  perSubscriber.sort((a, b) => a - b);
  return { latencies, bySequence, perSubscriber, lastDelivery, errorsInEvents, eventErrorSamples, endings };
}

/** The frames one subscriber got, each at its offset from the first event, for the floor to replay. */
function replayOf(subscribers) {
  const frames = [];
  for (const [, text] of subscribers.find((s) => s.done)?.received ?? []) {
    const occurredAt = JSON.parse(text).payload?.data?.operationEvents?.occurredAt;
    if (!occurredAt) continue;
    frames.push({ occurredAt: Date.parse(occurredAt), text: text.replace(occurredAt, OCCURRED_AT) });
  }
  const first = frames[0]?.occurredAt ?? 0;
  return frames.map((f) => ({ offsetMs: f.occurredAt - first, text: f.text }));
}

/**
 * The floor: the same frames at the same offsets to as many connections, from a bare `ws` server
 * (`lib/ws-floor.mjs`); its latencies and the RSS each of its connections costs.
 */
async function floorOf(frames, connections) {
  const server = fork(fileURLToPath(new URL('./lib/ws-floor.mjs', import.meta.url)));
  try {
    const { port } = await new Promise((resolve) => server.once('message', resolve));
    const rss0 = treeStat(server.pid).rssBytes;
    const clients = [];
    for (let i = 0; i < connections; i += settings.connectBatch) {
      const batch = [];
      for (let j = i; j < Math.min(connections, i + settings.connectBatch); j++)
        batch.push(
          new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}`);
            const client = { ws, received: [] };
            ws.on('message', (data) => client.received.push([Date.now(), data.toString()]));
            ws.on('open', () => resolve(client));
            ws.on('error', reject);
          }),
        );
      clients.push(...(await Promise.all(batch)));
    }
    await sleep(1000);
    const rss1 = treeStat(server.pid).rssBytes;
    server.send({ replay: frames });
    await new Promise((resolve) => server.once('message', resolve));
    const deadline = Date.now() + 60_000;
    while (clients.some((c) => c.received.length < frames.length) && Date.now() < deadline) await sleep(100);
    for (const c of clients) c.ws.terminate();
    const { latencies } = analyse(clients);
    return {
      connections,
      events: latencies.length,
      latencyMs: {
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies.at(-1) ?? null,
      },
      rssPerConnectionKiB: (rss1 - rss0) / 1024 / connections,
    };
  } finally {
    server.kill();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-subscriptions-'));
removeOnInterrupt(dir);
const started = new Date();
const host = machine(); // before the lab starts: the load average says how busy the machine was already
let lab = null;
let subs = [];
let result = null;
let template = [];
try {
  lab = await openLab({
    dir,
    gatewayPort: 0,
    transferMs: 300,
    bootSeconds: settings.bootSeconds,
    replicationIntervalSeconds: 5,
    healthIntervalSeconds: 10,
    demo: true,
  });
  const tenant = await lab.tenantTokens();
  await waitForReplication(lab, tenant, lab.demoChangedAt);
  const gql = async (query, variables = {}) => {
    const res = await lab.gql(query, variables, tenant);
    if (res.errors?.length) throw new Error(res.errors[0].message);
    return res.data;
  };
  const gatewayPid = labPid(lab, 'gateway');

  /** Runs an operation to its end (polling every 100 ms, as bench:rto does); its time and the gateway's CPU. */
  const timed = async (mutation) => {
    const cpu0 = treeStat(gatewayPid).cpuMs;
    const t0 = performance.now();
    const data = await gql(mutation);
    const op = Object.values(data)[0];
    // A poll answered with operation null (the gateway could not tell whether the caller may see it)
    // is counted and polled again.
    let nullAnswers = 0;
    const deadline = Date.now() + 300_000;
    for (;;) {
      const { operation } = await gql(
        'query($id: ID!) { operation(id: $id) { status error { code message } steps { key status error { code message } } } }',
        { id: op.id },
      );
      if (!operation) nullAnswers++;
      else if (TERMINAL.includes(operation.status)) {
        const failedSteps = operation.steps
          .filter((x) => x.error)
          .map((x) => `${x.key}: ${x.error.code} ${x.error.message}`);
        return {
          id: op.id,
          status: operation.status,
          error: operation.error ? `${operation.error.code}: ${operation.error.message}` : null,
          failedSteps,
          ms: performance.now() - t0,
          endedAt: Date.now(),
          gatewayCpuMs: treeStat(gatewayPid).cpuMs - cpu0,
          nullAnswers,
        };
      }
      if (Date.now() > deadline) throw new Error(`operation ${op.id} did not end within 300 s`);
      await sleep(100);
    }
  };
  const must = async (run) => {
    const r = await run;
    if (r.status !== 'SUCCEEDED')
      throw new Error(`operation ${r.id}: ${r.status} ${r.error ?? ''} ${r.failedSteps.join('; ')}`);
    return r;
  };
  const drill = () =>
    timed(`mutation { testFailover(input: { protectionGroup: "${settings.group}" }) { id } }`);
  // Forced: it also cleans up after a drill that failed.
  const cleanup = () =>
    must(
      timed(`mutation { testCleanup(input: { protectionGroup: "${settings.group}", force: true }) { id } }`),
    );

  // A drill to warm everything up, then the baseline with no subscriber.
  await must(drill());
  await cleanup();
  const baseline = await must(drill());
  await cleanup();
  console.log(`test failover with no subscriber: ${(baseline.ms / 1000).toFixed(2)} s`);

  // The subscribers.
  const users = await demoProjectUsers(lab, Math.max(1, settings.callers));
  const tokenSets = await clientTokens(lab, Math.max(1, settings.tokenSets), users);
  const wsUrl = lab.gatewayUrl.replace(/^http/, 'ws');
  const rssBefore = treeStat(gatewayPid).rssBytes;
  const connect0 = performance.now();
  let failedToConnect = 0;
  for (let i = 0; i < settings.subscribers; i += settings.connectBatch) {
    const batch = [];
    for (let j = i; j < Math.min(settings.subscribers, i + settings.connectBatch); j++)
      batch.push(subscribe(wsUrl, tokenSets[j % tokenSets.length]));
    for (const r of await Promise.allSettled(batch)) {
      if (r.status === 'fulfilled') subs.push(r.value);
      else failedToConnect++;
    }
  }
  const connectMs = performance.now() - connect0;
  await sleep(settings.settleSeconds * 1000);
  const rssAfter = treeStat(gatewayPid).rssBytes;
  console.log(
    `${subs.length} subscribers connected in ${(connectMs / 1000).toFixed(1)} s (${failedToConnect} failed); ` +
      `gateway RSS ${Math.round(rssBefore / 2 ** 20)} -> ${Math.round(rssAfter / 2 ** 20)} MiB`,
  );

  const loaded = await drill();
  console.log(
    `test failover with ${subs.length} subscribers: ${loaded.status} in ${(loaded.ms / 1000).toFixed(2)} s` +
      (loaded.status === 'SUCCEEDED' ? '' : ` (${loaded.error}; ${loaded.failedSteps.join('; ')})`),
  );
  const waitUntil = Date.now() + 120_000;
  while (subs.some((s) => !s.done && !s.error) && Date.now() < waitUntil) await sleep(200);
  const allDeliveredAt = Date.now();

  const seen = analyse(subs);
  const { latencies, bySequence, perSubscriber, lastDelivery, errorsInEvents, eventErrorSamples, endings } =
    seen;
  template = replayOf(subs);
  const missedEnd = subs.filter((s) => !s.done).length;
  const closed = subs.filter((s) => s.error).map((s) => s.error);

  for (const s of subs) s.ws.terminate();
  subs = [];
  await sleep(1000);
  await cleanup();

  result = {
    subscribers: settings.subscribers,
    connected: settings.subscribers - failedToConnect,
    failedToConnect,
    connectSeconds: connectMs / 1000,
    gatewayRssBeforeMiB: rssBefore / 2 ** 20,
    gatewayRssAfterMiB: rssAfter / 2 ** 20,
    rssPerSubscriberKiB: settings.subscribers
      ? (rssAfter - rssBefore) / 1024 / (settings.subscribers - failedToConnect || 1)
      : null,
    baselineFailoverSeconds: baseline.ms / 1000,
    loadedFailoverSeconds: loaded.ms / 1000,
    loadedFailoverStatus: loaded.status,
    loadedFailoverError: loaded.error,
    loadedFailoverFailedSteps: loaded.failedSteps,
    baselineGatewayCpuMs: baseline.gatewayCpuMs,
    loadedGatewayCpuMs: loaded.gatewayCpuMs,
    pollAnswersWithoutTheOperation: { baseline: baseline.nullAnswers, loaded: loaded.nullAnswers },
    events: latencies.length,
    eventsPerSubscriber: {
      min: perSubscriber[0] ?? 0,
      p50: percentile(perSubscriber, 50),
      max: perSubscriber.at(-1) ?? 0,
    },
    latencyByEventMs: Object.fromEntries(
      Object.entries(bySequence).map(([key, ms]) => {
        ms.sort((a, b) => a - b);
        return [key, { first: ms[0], p50: percentile(ms, 50), last: ms.at(-1) }];
      }),
    ),
    latencyMs: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? null,
    },
    lastDeliveryAfterFailoverEndMs: lastDelivery - loaded.endedAt,
    waitedForDeliveryMs: allDeliveredAt - loaded.endedAt,
    subscribersWithoutTheFinalEvent: missedEnd,
    eventsWithErrors: errorsInEvents,
    eventErrorSamples,
    streamEndings: endings,
    closedSamples: [...new Set(closed)].slice(0, 5),
  };
} finally {
  for (const s of subs) s.ws.terminate();
  await lab?.stop();
  if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
}

// The floor, with the lab stopped: the same frames at the same times through a bare `ws` server.
result.floor = template.length > 0 ? await floorOf(template, result.connected) : null;
const r = result;
printTable(
  `Subscriptions during a test failover of ${settings.group} (2 VMs, boot ${settings.bootSeconds} s) (${started.toISOString().slice(0, 10)})`,
  [
    ['subscribers', 'connected'],
    ['connect s', (x) => fixed(x.connectSeconds)],
    ['events', 'events'],
    ['events/sub', (x) => `${x.eventsPerSubscriber.min}-${x.eventsPerSubscriber.max}`],
    ['p50 ms', (x) => fixed(x.latencyMs.p50, 0)],
    ['p99 ms', (x) => fixed(x.latencyMs.p99, 0)],
    ['max ms', (x) => fixed(x.latencyMs.max, 0)],
    ['RSS KiB/sub', (x) => fixed(x.rssPerSubscriberKiB, 1)],
    [
      'floor p50/p99 ms',
      (x) => (x.floor ? `${fixed(x.floor.latencyMs.p50, 0)}/${fixed(x.floor.latencyMs.p99, 0)}` : '-'),
    ],
    ['floor KiB/conn', (x) => (x.floor ? fixed(x.floor.rssPerConnectionKiB, 1) : '-')],
    ['failover s (none)', (x) => fixed(x.baselineFailoverSeconds, 2)],
    ['failover s (N)', (x) => fixed(x.loadedFailoverSeconds, 2)],
    ['outcome (N)', 'loadedFailoverStatus'],
    ['missed end', 'subscribersWithoutTheFinalEvent'],
  ],
  [r],
);
console.log(
  `last event delivered ${fixed(r.lastDeliveryAfterFailoverEndMs / 1000, 1)} s after the failover ended (as its poller saw it); ` +
    `gateway CPU during the failover: ${fixed(r.baselineGatewayCpuMs, 0)} ms with no subscriber, ${fixed(r.loadedGatewayCpuMs, 0)} ms with ${r.connected}`,
);
writeResult('subscriptions', {
  bench: 'subscriptions',
  date: started.toISOString(),
  machine: { ...host, loadAverageAtEnd: machine().loadAverage },
  settings,
  result: r,
});
