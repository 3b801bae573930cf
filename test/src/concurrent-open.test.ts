import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

/**
 * Every store that several processes may open at once comes up when they all open one fresh
 * directory together: the mock arrays (both site services of the lab share them), the simulated
 * cloud with its seed, and the site and gateway databases with their migrations (a service
 * restarted while its previous process is still stopping). Each round starts PROCESSES processes
 * on a new directory at the same moment; all must come up, and the result must be as if one had.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PROCESSES = 6;
const ROUNDS = 20;

const dist = (path: string) => JSON.stringify(join(ROOT, path));

/** What each process does: for each directory it is given, open every store there as the services do. */
const WORKER = `
const { MockStorageDriver } = await import(${dist('storage-drivers/dist/mock.js')});
const { createSimulatedCloud } = await import(${dist('subgraph-site/cloud-sim/dist/index.js')});
const { createSiteDataSource } = await import(${dist('subgraph-site/dist/db/data-source.js')});
const { openCoordinatorDataSource } = await import(${dist('gateway/dist/coordinator/store.js')});
const { createInterface } = await import('node:readline');
const quiet = () => {};
async function openAll(dir) {
  const results = await Promise.allSettled([
    (async () => {
      const driver = MockStorageDriver.create({ dataDir: dir, log: quiet });
      await driver.initialize();
      await driver.close();
    })(),
    (async () => {
      const cloud = await createSimulatedCloud({ database: dir + '/cloud.sqlite' });
      await cloud.stop();
    })(),
    (async () => {
      const ds = await createSiteDataSource({ url: dir + '/site.sqlite' });
      await ds.destroy();
    })(),
    (async () => {
      const ds = await openCoordinatorDataSource(dir + '/gateway.sqlite');
      await ds.destroy();
    })(),
  ]);
  return results.filter((r) => r.status === 'rejected').map((r) => String(r.reason?.stack ?? r.reason));
}
// Loaded: say so, then open each directory the moment it is named (all processes get it at once).
process.stdout.write('@ready\\n');
for await (const dir of createInterface({ input: process.stdin })) {
  process.stdout.write('@' + JSON.stringify(await openAll(dir)) + '\\n');
}
`;

/** A worker process: its answers (one line each) in order. */
function startWorker() {
  const child = spawn(process.execPath, ['--input-type=module', '-e', WORKER], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  // The worker's answers start with '@' (TypeORM writes its own lines to stdout).
  const next = async (): Promise<string> => {
    for (;;) {
      const line = await lines.next();
      if (line.done) throw new Error(`a worker process exited: ${stderr}`);
      if (line.value.startsWith('@')) return line.value.slice(1);
    }
  };
  return {
    ready: next(),
    /** Opens every store in `dir`; the errors it met. */
    open: async (dir: string): Promise<string[]> => {
      child.stdin.write(`${dir}\n`);
      return JSON.parse(await next()) as string[];
    },
    stop: () => child.stdin.end(),
    exit: new Promise<number | null>((done) => child.on('close', done)),
  };
}

const count = (file: string, sql: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('stores opened by several processes at once on a fresh directory', () => {
  it(`all ${PROCESSES} processes come up, ${ROUNDS} rounds in a row, and the stores are as if one had`, async () => {
    const workers = Array.from({ length: PROCESSES }, startWorker);
    try {
      await Promise.all(workers.map((w) => w.ready));
      for (let round = 1; round <= ROUNDS; round++) {
        const dir = await mkdtemp(join(tmpdir(), 'protector-open-'));
        try {
          const errors = (await Promise.all(workers.map((w) => w.open(dir)))).flat();
          expect(errors, `round ${round}`).toEqual([]);
          // One of each: the arrays, the cloud's seed, every migration.
          expect(count(join(dir, 'flasharray.sqlite'), 'SELECT COUNT(*) AS n FROM arrays')).toBe(2);
          expect(
            count(
              join(dir, 'cloud.sqlite'),
              `SELECT COUNT(*) AS n FROM resources WHERE kind = 'project' AND json_extract(body, '$.name') = 'admin'`,
            ),
          ).toBe(1);
          const siteMigrations = count(
            join(dir, 'site.sqlite'),
            'SELECT COUNT(*) AS n FROM schema_migrations',
          );
          const siteDistinct = count(
            join(dir, 'site.sqlite'),
            'SELECT COUNT(DISTINCT name) AS n FROM schema_migrations',
          );
          expect(siteMigrations).toBeGreaterThan(0);
          expect(siteMigrations).toBe(siteDistinct);
          const gwMigrations = count(
            join(dir, 'gateway.sqlite'),
            'SELECT COUNT(*) AS n FROM schema_migrations',
          );
          expect(gwMigrations).toBe(
            count(join(dir, 'gateway.sqlite'), 'SELECT COUNT(DISTINCT name) AS n FROM schema_migrations'),
          );
          for (const file of ['flasharray.sqlite', 'cloud.sqlite', 'site.sqlite', 'gateway.sqlite']) {
            const wal = "SELECT COUNT(*) AS n FROM pragma_journal_mode WHERE journal_mode = 'wal'";
            expect(count(join(dir, file), wal), file).toBe(1);
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    } finally {
      for (const w of workers) w.stop();
      expect(await Promise.all(workers.map((w) => w.exit))).toEqual(workers.map(() => 0));
    }
  });
});
