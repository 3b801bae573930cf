// What every bench shares: settings from the environment, the build check, /proc readings, the table
// and the JSON result file. Loads only node: modules, so it can explain a missing build before anything
// of the project is imported.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? join(ROOT, 'bench', 'results');

/** A list of numbers from the environment (`BENCH_SIZES=1000,10000`). */
export function envList(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isFinite(v) || v < 0))
    throw new Error(`${name}=${raw}: give numbers, e.g. 1000,10000`);
  return values;
}

/** A number from the environment. */
export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw}: give a number`);
  return value;
}

/** A word from the environment, one of `allowed`. */
export function envChoice(name, allowed, fallback) {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (!allowed.includes(raw)) throw new Error(`${name}=${raw}: give one of ${allowed.join(', ')}`);
  return raw;
}

/** A comma-separated list of words from the environment, each one of `allowed`. */
export function envWords(name, allowed, fallback) {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const words = raw.split(',').map((s) => s.trim());
  for (const w of words)
    if (!allowed.includes(w)) throw new Error(`${name}=${raw}: '${w}' is not one of ${allowed.join(', ')}`);
  return words;
}

/**
 * Stops with a clear message when the workspaces are not built: the benches run the built lab
 * (`test/dist/lab.js`, which starts `subgraph-site/dist/bin.js` and `gateway/dist/bin.js`).
 */
export function requireBuild() {
  const needed = [
    'test/dist/lab.js',
    'test/kit/dist/processes.js',
    'subgraph-site/dist/bin.js',
    'gateway/dist/bin.js',
    'schema/dist/index.js',
    'storage-drivers/dist/fa-sim/cli.js',
  ];
  const missing = needed.filter((p) => !existsSync(join(ROOT, p)));
  if (missing.length) {
    console.error(
      `bench: the workspaces are not built (missing ${missing.join(', ')}).\n` +
        'Run `npx turbo run build` first, or run the bench through its npm script (npm run bench:<name>), which builds.',
    );
    process.exit(2);
  }
}

/** Stops with a clear message when a peer gateway package is not installed (the bench workspace). */
export function requirePackage(name) {
  const dirs = [join(ROOT, 'node_modules', name), join(ROOT, 'bench', 'node_modules', name)];
  if (!dirs.some((d) => existsSync(join(d, 'package.json')))) {
    console.error(
      `bench: ${name} is not installed. Run \`npm ci\` (or \`npm install\`) at the repository root.`,
    );
    process.exit(2);
  }
}

/** The version of an installed package. */
export function packageVersion(name) {
  for (const base of [join(ROOT, 'node_modules'), join(ROOT, 'bench', 'node_modules')]) {
    const file = join(base, name, 'package.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).version;
  }
  return null;
}

// ------------------------------------------------------------------ /proc

const CLK_TCK = 100; // USER_HZ on Linux (getconf CLK_TCK); /proc/<pid>/stat counts CPU in these ticks.
const PAGE_SIZE = 4096;

/** utime + stime of one process in ms, and its RSS in bytes; null when it is gone. */
export function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    const rssPages = Number(f[21]);
    return { cpuMs: ((utime + stime) * 1000) / CLK_TCK, rssBytes: rssPages * PAGE_SIZE };
  } catch {
    return null;
  }
}

/** The pids of a process and of all its descendants. */
export function processTree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return out;
}

/** CPU ms and RSS summed over a process and its descendants. */
export function treeStat(pid) {
  let cpuMs = 0;
  let rssBytes = 0;
  for (const p of processTree(pid)) {
    const s = procStat(p);
    if (s) {
      cpuMs += s.cpuMs;
      rssBytes += s.rssBytes;
    }
  }
  return { cpuMs, rssBytes };
}

/** CPU of a whole machine from /proc/stat: busy and total jiffies, to tell how loaded the host was. */
export function hostCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Share of the machine's CPUs that was busy between two `hostCpu()` readings, in % of all cores. */
export const hostBusyPct = (a, b) =>
  b.total > a.total ? (100 * (b.busy - a.busy)) / (b.total - a.total) : 0;

/** The commit measured, and the files that differed from it in the working tree (built and measured too). */
export function source() {
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    } catch {
      return null;
    }
  };
  const status = git('status', '--porcelain', '--untracked-files=no');
  return {
    commit: git('rev-parse', 'HEAD')?.trim() ?? null,
    modified: (status ?? '')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => l.slice(3)),
  };
}

/** What the report says about the machine. */
export function machine() {
  const cpuInfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuInfo)?.[1] ?? 'unknown';
  return {
    cpus: cpus().length,
    cpuModel: model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

// ------------------------------------------------------------------ output

/** Prints rows (objects) as an aligned table with the given columns: [header, key or fn, align]. */
export function printTable(title, columns, rows) {
  const cells = rows.map((r) =>
    columns.map(([, get]) => {
      const v = typeof get === 'function' ? get(r) : r[get];
      return v === null || v === undefined ? '-' : String(v);
    }),
  );
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values) =>
    values.map((v, i) => (columns[i][2] === 'left' ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(columns.map(([h]) => h)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

/** Writes the run's JSON to bench/results/<name>.json (or BENCH_RESULTS_DIR) and says where. */
export function writeResult(name, result) {
  const file = join(RESULTS_DIR, `${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...result, source: source() }, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
  return file;
}

export const fixed = (n, digits = 1) =>
  n === null || n === undefined || Number.isNaN(n) ? null : n.toFixed(digits);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
