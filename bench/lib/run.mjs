// One measured load run against one target, with the CPU each process of the lab spent meanwhile.

import { fetch } from 'undici';
import { hostBusyPct, hostCpu, treeStat } from './common.mjs';
import { runLoad } from './load.mjs';

/**
 * One light request per client, one after another, so every client's token is validated and cached
 * by the sites before the load (as in a steady state, where tokens live for an hour): a site checks a
 * token it has not seen with its Keystone, which in the lab runs inside the site process.
 */
async function primeTokens(url, concurrency, prime) {
  for (let n = 0; n < concurrency; n++) {
    const { headers, body } = prime(n);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    await res.text();
  }
}

/**
 * One request with no other load, after the run: what the same query answers when the target is not
 * busy (its time, and what it held or the first error), next to what the load got.
 */
async function oneRequest(url, { headers, body }, summarize) {
  const t0 = performance.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    return {
      ms: Math.round(performance.now() - t0),
      status: res.status,
      answered: json.data && summarize ? summarize(json) : null,
      error: json.errors?.length
        ? `${json.errors[0].message} (${json.errors[0].extensions?.code ?? '-'})`
        : null,
    };
  } catch (err) {
    return { ms: Math.round(performance.now() - t0), status: 0, answered: null, error: err.message };
  }
}

/**
 * Primes the clients' tokens (`prime(n)`: a light request of client n), warms the target up
 * (`warmupMs` of the same load, not counted), then runs the load and reads the
 * CPU of `pids` (name -> pid, each with its descendants) and of this process before and after; last,
 * one request alone (`alone`).
 */
export async function measuredRun({
  url,
  concurrency,
  durationMs,
  warmupMs,
  timeoutMs,
  prime,
  request,
  summarize,
  pids,
}) {
  if (prime) await primeTokens(url, concurrency, prime);
  if (warmupMs > 0) await runLoad({ url, concurrency, durationMs: warmupMs, timeoutMs, request });
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, treeStat(pid)]));
  const self0 = process.cpuUsage();
  const host0 = hostCpu();
  const result = await runLoad({ url, concurrency, durationMs, timeoutMs, request, summarize });
  const host1 = hostCpu();
  const self = process.cpuUsage(self0);
  const cpuMs = {};
  const rssMiB = {};
  for (const [k, pid] of Object.entries(pids)) {
    const after = treeStat(pid);
    cpuMs[k] = after.cpuMs - before[k].cpuMs;
    rssMiB[k] = Math.round(after.rssBytes / 2 ** 20);
  }
  cpuMs.loadGenerator = (self.user + self.system) / 1000;
  const alone = await oneRequest(url, request(0), summarize);
  const perRequest = Object.fromEntries(
    Object.entries(cpuMs).map(([k, v]) => [k, result.requests ? v / result.requests : null]),
  );
  return {
    ...result,
    cpuMs,
    cpuMsPerRequest: perRequest,
    rssMiB,
    hostBusyPct: hostBusyPct(host0, host1),
    alone,
  };
}
