/**
 * Test support shared by the packages' integration tests: free loopback ports and a throwaway
 * PostgreSQL 15 cluster. Not used by the services themselves.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A free TCP port on loopback (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}

/** Where the PostgreSQL 15 server binaries are (`PROTECTOR_PG_BIN` overrides). */
export const PG_BIN = process.env['PROTECTOR_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';

/** Whether a throwaway cluster can be started here (CI installs Debian's postgresql). */
export const hasTestPostgres = existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));

export interface TestPostgres {
  /** URL of the `postgres` database. */
  readonly url: string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a PostgreSQL cluster in a temp dir on a free loopback port (fsync off, trust auth, user
 * `protector`). initdb refuses to run as root, so as root the cluster runs as the `postgres` user.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'protector-pg-'));
  const asRoot = userInfo().uid === 0;
  const exec = (bin: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]]
      : [join(PG_BIN, bin), args];
    return run(file, argv, { timeout: 60_000 });
  };
  if (asRoot) {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(uid.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await exec('initdb', ['-D', data, '-U', 'protector', '--auth=trust', '--encoding=UTF8', '--no-sync']);
  await exec('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  const url = (db: string) => `postgresql://protector:unused@127.0.0.1:${port}/${db}`;
  return {
    url: url('postgres'),
    async createDatabase(name) {
      await exec('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'protector', name]);
      return url(name);
    },
    async stop() {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
