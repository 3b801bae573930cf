// Closed-loop HTTP load: `concurrency` clients, each sending its next GraphQL request as soon as the
// previous one is answered, for a fixed time. Every client has its own tokens (its own Keystone
// tokens, as separate users would), so per-caller rate limits and per-caller request merging apply to
// each client alone. A request started before the deadline is waited for and counted.
//
// An answer is:
// - ok: HTTP 200 with data and no `errors`;
// - partial: HTTP 200 with `errors` (data may be there, or null);
// - empty (counted within ok): an ok answer whose list is empty (`"nodes":[]`, `"_entities":[]`)
//   although the dataset holds groups;
// - error: any other status (counted by status; 429 is also counted apart as rate-limited), a timeout
//   or a connection failure.
// Latency is measured from sending the request to reading the whole body, for every answer.
import { Pool } from 'undici';

/** The latency percentile `p` (0..100) of sorted samples. */
export function percentile(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Runs the load. `request(client)` gives `{ headers, body }` for client number `client`;
 * `summarize(json)`, called on the first ok answer, says what it held (groups, members) to show
 * that every target answered alike.
 */
export async function runLoad({ url, concurrency, durationMs, timeoutMs = 120_000, request, summarize }) {
  const target = new URL(url);
  const pool = new Pool(target.origin, {
    connections: concurrency,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 30_000,
  });
  const latencies = [];
  const counts = { ok: 0, empty: 0, partial: 0, error: 0, rateLimited: 0, timeout: 0 };
  const byStatus = {};
  const errorSamples = [];
  let summary = null;
  let summaryFromEmpty = false;
  let bytes = 0;
  let bodies = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const sample = (what) => {
    if (errorSamples.length < 5 && !errorSamples.includes(what)) errorSamples.push(what);
  };

  const client = async (n) => {
    const { headers, body } = request(n);
    const payload = JSON.stringify(body);
    while (performance.now() < deadline) {
      const start = performance.now();
      let status = 0;
      let text = '';
      try {
        const res = await pool.request({
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
          body: payload,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        latencies.push(performance.now() - start);
        const timedOut = /timeout/i.test(err.code ?? '') || /timeout/i.test(err.message);
        if (timedOut) counts.timeout++;
        counts.error++;
        sample(`${err.code ?? 'error'}: ${err.message}`);
        continue;
      }
      latencies.push(performance.now() - start);
      bytes += text.length;
      bodies++;
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status !== 200) {
        counts.error++;
        if (status === 429) counts.rateLimited++;
        sample(`HTTP ${status}: ${text.slice(0, 200)}`);
        continue;
      }
      // Our data never holds the word "errors": parse only answers that may carry them, and the first
      // one that is not empty (for the summary).
      const mayHaveErrors = text.includes('"errors"');
      const empty = text.includes('"nodes":[]') || text.includes('"_entities":[]');
      if (mayHaveErrors || summary === null || (summaryFromEmpty && !empty)) {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          counts.error++;
          sample(`HTTP 200, not JSON: ${text.slice(0, 200)}`);
          continue;
        }
        if (json.errors?.length) {
          counts.partial++;
          sample(
            `partial: ${json.errors[0].message}${json.errors[0].extensions?.code ? ` (${json.errors[0].extensions.code})` : ''}`,
          );
          continue;
        }
        if ((summary === null || (summaryFromEmpty && !empty)) && summarize) {
          summary = summarize(json);
          summaryFromEmpty = empty;
        }
      }
      counts.ok++;
      if (empty) {
        counts.empty++;
        sample('ok but empty: the list held no group');
      }
    }
  };

  await Promise.all(Array.from({ length: concurrency }, (_, n) => client(n)));
  const elapsedMs = performance.now() - t0;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const total = latencies.length;
  return {
    requests: total,
    elapsedMs: Math.round(elapsedMs),
    rps: (total * 1000) / elapsedMs,
    okRps: (counts.ok * 1000) / elapsedMs,
    completeRps: ((counts.ok - counts.empty) * 1000) / elapsedMs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? null,
    ...counts,
    byStatus,
    meanResponseBytes: bodies ? Math.round(bytes / bodies) : 0,
    answered: summary,
    errorSamples,
  };
}
