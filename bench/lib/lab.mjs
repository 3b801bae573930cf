// The lab of a bench, grown from one dataset size to the next: the template group is made once through
// the gateway, then for each size (ascending) the lab is stopped, the missing groups are copied into
// its files, and the lab starts again on them (same state, same ports).
import { rmSync } from 'node:fs';
import { keystoneToken, startLab } from '../../test/dist/lab.js';
import { procStat, sleep } from './common.mjs';
import { captureTemplate, countDataset, createTemplate, seedGroups } from './dataset.mjs';

const cleanups = new Set();
const folders = new Set();
let exiting = false;

/** Deletes `dir` when the bench is interrupted, after the lab stopped (unless BENCH_KEEP=1). */
export function removeOnInterrupt(dir) {
  if (process.env.BENCH_KEEP !== '1') folders.add(dir);
}

/** Runs `fn` when the bench is interrupted (Ctrl-C, SIGTERM), so no process of the lab is left. */
export function onInterrupt(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (exiting) return;
    exiting = true;
    console.error(`\nbench: ${signal}, stopping the lab ...`);
    Promise.allSettled([...cleanups].map((fn) => fn())).finally(() => {
      for (const dir of folders) rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

/** Starts a lab and registers it for clean-up. */
export async function openLab(options) {
  const lab = await startLab(options);
  const off = onInterrupt(() => lab.stop());
  const stop = lab.stop;
  lab.stop = async () => {
    off();
    await stop();
  };
  return lab;
}

/**
 * For each size of `sizes` (ascending): a running lab holding that many groups of `members` members;
 * `run(lab, size, info)` measures it, and the lab is stopped afterwards. Returns the sizes whose lab
 * did not start, with the reason.
 */
export async function withDatasets({
  labOptions,
  sizes,
  members,
  replicate,
  settle = false,
  run,
  log = console.log,
}) {
  const ordered = [...sizes].sort((a, b) => a - b);
  let lab = await openLab(labOptions);
  let template;
  try {
    template = await createTemplate(lab);
  } finally {
    await lab.stop();
  }
  captureTemplate(lab, template);
  let have = 0;
  const failures = [];
  for (const size of ordered) {
    const t0 = performance.now();
    seedGroups(lab, { from: have, to: size, members, replicate });
    have = size;
    const seedMs = performance.now() - t0;
    const counts = countDataset(lab);
    const t1 = performance.now();
    try {
      lab = await openLab(labOptions);
    } catch (err) {
      // The lab gave up (a process not ready within its 60 s): say so, and go on with the next size.
      const error = String(err.message).split('\n')[0];
      log(`dataset: ${size} groups x ${members} members: the lab did not start: ${error}`);
      failures.push({ groups: size, members, error });
      continue;
    }
    const startMs = performance.now() - t1;
    const settleMs = settle ? await settled(lab) : 0;
    log(
      `dataset: ${size} groups x ${members} members (boston holds ${counts.boston.groups} groups, ${counts.boston.members} members; ` +
        `seattle ${counts.seattle.groups}, ${counts.seattle.members}); copied in ${(seedMs / 1000).toFixed(1)} s, lab up in ${(startMs / 1000).toFixed(1)} s` +
        (settle ? `, settled in ${(settleMs / 1000).toFixed(1)} s` : ''),
    );
    try {
      await run(lab, size, { seedMs, startMs, settleMs, counts });
    } finally {
      await lab.stop();
    }
  }
  return failures;
}

const BENCH_PASSWORD = 'bench-caller-password';

/**
 * One set of Keystone tokens per client, `[{ boston, seattle }, ...]`, each its own: client n's of
 * `users[n % users.length]` (user names in the demo project, see `demoProjectUsers`; default the demo
 * user alone).
 */
export async function clientTokens(lab, n, users = ['demo']) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = {};
    const user = users[i % users.length];
    for (const s of Object.values(lab.sites))
      t[s.name] = await keystoneToken(s.keystoneUrl, user, user === 'demo' ? 'demo' : BENCH_PASSWORD, 'demo');
    out.push(t);
  }
  return out;
}

/**
 * `n` users of the demo project on every site's Keystone, with the roles the demo user holds there
 * (created as the cloud's admin; kept if there already): `demo` and `bench-caller-1` ... `-<n-1>`.
 * Their tokens see the same groups, as different callers.
 */
export async function demoProjectUsers(lab, n) {
  const names = ['demo', ...Array.from({ length: n - 1 }, (_, i) => `bench-caller-${i + 1}`)];
  for (const s of Object.values(lab.sites)) {
    const base = s.keystoneUrl.replace(/\/+$/, '');
    const admin = await keystoneToken(s.keystoneUrl, 'admin', 'admin', 'admin');
    const call = async (method, path, body, headers = {}) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-auth-token': admin, ...headers },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok && res.status !== 409)
        throw new Error(`bench: Keystone of ${s.name}: ${method} ${path}: ${res.status} ${await res.text()}`);
      return res.status === 204 ? null : res.json();
    };
    const demoToken = await keystoneToken(s.keystoneUrl, 'demo', 'demo', 'demo');
    const demo = (await call('GET', '/auth/tokens?nocatalog=1', undefined, { 'x-subject-token': demoToken }))
      .token;
    const held = new Set(demo.roles.map((r) => r.name));
    const roles = (await call('GET', '/roles')).roles.filter((r) => held.has(r.name));
    for (const name of names.slice(1)) {
      const found = (await call('GET', `/users?name=${name}`)).users[0];
      const user =
        found ??
        (await call('POST', '/users', { user: { name, password: BENCH_PASSWORD, domain_id: 'default' } }))
          .user;
      for (const r of roles) await call('PUT', `/projects/${demo.project.id}/users/${user.id}/roles/${r.id}`);
    }
  }
  return names;
}

/** The pid of a lab process (`boston`, `seattle`, `gateway`). */
export function labPid(lab, name) {
  const pid = lab.process(name)?.child.pid;
  if (!pid) throw new Error(`bench: lab process ${name} is not running`);
  return pid;
}

/**
 * Waits until the lab's sites are done starting: each site's replication monitor reads every group from
 * the arrays once when it starts, and a run measured meanwhile pays for it (whichever target runs
 * first). Settled: both sites below `belowPct` % of a core for `quietSeconds` seconds in a row, or
 * `maxSeconds` passed. Returns the ms waited.
 */
export async function settled(lab, { belowPct = 15, quietSeconds = 3, maxSeconds = 180 } = {}) {
  const pids = ['boston', 'seattle'].map((name) => labPid(lab, name));
  const t0 = performance.now();
  let quiet = 0;
  let before = pids.map((pid) => procStat(pid)?.cpuMs ?? 0);
  while (quiet < quietSeconds && performance.now() - t0 < maxSeconds * 1000) {
    await sleep(1000);
    const now = pids.map((pid) => procStat(pid)?.cpuMs ?? 0);
    const busiest = Math.max(...now.map((ms, i) => (ms - before[i]) / 10));
    quiet = busiest < belowPct ? quiet + 1 : 0;
    before = now;
  }
  return performance.now() - t0;
}
