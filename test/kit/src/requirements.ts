/**
 * What a suite needs from the machine or the build, the one way every package's tests say so
 * ({@link needs} and {@link requirement}: run where available, fail in CI, skip and say so elsewhere),
 * and the requirements several suites share: Chromium, and PostgreSQL server binaries with a throwaway
 * cluster on them ({@link startTestPostgres}). Loads vitest: tests only, never the lab.
 */
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, realpathSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it, type TestFunction } from 'vitest';

const run = promisify(execFile);

// ---- requirements: run where available, fail in CI, skip (and say so) elsewhere ----

/** Something a suite needs from the machine or the build, and how to get it. */
export interface Requirement {
  /** What is needed, as messages name it: `Chromium`, `PostgreSQL >= 15 server binaries`. */
  readonly name: string;
  readonly available: boolean;
  /** How to get it: `apt-get install -y postgresql`. */
  readonly install: string;
  /** Why it is missing (what was looked at); added to the CI failure's message. */
  readonly detail?: string;
}

export function requirement(name: string, available: boolean, install: string, detail?: string): Requirement {
  return detail === undefined ? { name, available, install } : { name, available, install, detail };
}

/** A CI run (`CI=true`): there a missing requirement fails the suite instead of skipping it. */
export const isCI = (): boolean => process.env['CI'] === 'true';

/** `needs <name>: <install>` for each missing requirement: the name of the failing test in CI. */
const needsTitle = (missing: readonly Requirement[]) =>
  missing.map((r) => `needs ${r.name}: ${r.install}`).join('; ');

function needsError(
  missing: readonly Requirement[],
  why = 'CI=true, so a missing requirement fails instead of skipping.',
): Error {
  const each = missing.map((r) => `needs ${r.name}: ${r.install}${r.detail ? ` (${r.detail})` : ''}`);
  return new Error(`${each.join('; ')}. ${why}`);
}

/** The one line printed for a suite or test skipped outside CI. */
function reportSkip(title: string, missing: readonly Requirement[]): void {
  const why = missing.map((r) => `${r.name} not found (${r.install})`).join('; ');
  process.stderr.write(`skipped "${title}": ${why}\n`);
}

export interface Needs {
  /**
   * `describe(title, fn)` when every requirement is available. Otherwise, `fn` is not run and one test
   * `needs <name>: <install>` stands for the suite: failing with `CI=true`, else skipped (one line on stderr).
   */
  describe(title: string, fn: () => void): void;
  /** The same for one test: with `CI=true` the test keeps its title and fails naming what to install. */
  it(title: string, fn: TestFunction, timeout?: number): void;
}

/**
 * Gates a suite or a test on what it needs from the machine (or the build), the one way every
 * package's tests do it:
 *
 *     needs(testPostgres).describe('site database on PostgreSQL', () => { ... });
 *     needs(requirement('the openstack CLI', existsSync('/usr/bin/openstack'), 'apt-get install -y python3-openstackclient')).describe(...)
 *
 * Available: runs. Missing and `CI=true`: fails with `needs <name>: <install>`. Missing elsewhere:
 * skipped, printing `skipped "<title>": <name> not found (<install>)` to stderr.
 */
export function needs(...requirements: Requirement[]): Needs {
  const missing = requirements.filter((r) => !r.available);
  return {
    describe(title, fn) {
      if (missing.length === 0) describe(title, fn);
      else if (isCI())
        describe(title, () => {
          it(needsTitle(missing), () => {
            throw needsError(missing);
          });
        });
      else {
        // Not `describe.skip(title, fn)`: vitest still runs a skipped suite's factory, which may
        // touch what is missing (a bundle's files); one skipped test stands for the suite instead.
        reportSkip(title, missing);
        describe.skip(title, () => {
          it(needsTitle(missing), () => {});
        });
      }
    },
    it(title, fn, timeout) {
      if (missing.length === 0) it(title, fn, timeout);
      else if (isCI())
        it(title, () => {
          throw needsError(missing);
        });
      else {
        reportSkip(title, missing);
        it.skip(title, fn, timeout);
      }
    },
  };
}

/** Chromium for the playground's browser tests: `$CHROMIUM_PATH`, else `/usr/bin/chromium`. */
export const CHROMIUM_PATH: string = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const chromium: Requirement = requirement(
  'Chromium',
  isExecutable(CHROMIUM_PATH),
  'apt-get install -y chromium chromium-driver',
  `no executable ${CHROMIUM_PATH}${process.env['CHROMIUM_PATH'] !== undefined ? ' (CHROMIUM_PATH)' : ''}`,
);

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---- a throwaway PostgreSQL cluster ----

/** The oldest PostgreSQL major version the tests accept. */
export const MIN_PG_MAJOR = 15;
/** What `startTestPostgres` runs from the server's bin directory. */
const PG_PROGRAMS = ['initdb', 'pg_ctl', 'postgres', 'createdb'] as const;

export interface PostgresServer {
  /** Directory of initdb, pg_ctl, postgres and createdb. */
  readonly bin: string;
  /** Major version, from `pg_ctl --version`. */
  readonly major: number;
  /** Where `bin` came from: `PROTECTOR_PG_BIN`, `pg_config --bindir`, `PATH` or `/usr/lib/postgresql`. */
  readonly from: string;
}

/**
 * Finds PostgreSQL >= 15 server binaries: `PROTECTOR_PG_BIN` if set (it alone: a wrong one counts as
 * missing), else `pg_config --bindir`, else `pg_ctl` and `initdb` on `PATH` (symlinks followed to the
 * real bin dir), else the highest `/usr/lib/postgresql/<N>/bin`. Each candidate must hold
 * initdb, pg_ctl, postgres and createdb, and `pg_ctl --version` must say >= 15. As root the
 * cluster runs as the `postgres` user, which must exist. `tried` says what was rejected and why.
 */
export function findPostgresServer(env: NodeJS.ProcessEnv = process.env): {
  server?: PostgresServer;
  tried: string[];
} {
  const tried: string[] = [];
  const check = (bin: string, from: string): PostgresServer | undefined => {
    const absent = PG_PROGRAMS.filter((p) => !isExecutable(join(bin, p)));
    if (absent.length) {
      tried.push(`${from}: ${bin} has no ${absent.join(', ')}`);
      return undefined;
    }
    let version: string;
    try {
      version = execFileSync(join(bin, 'pg_ctl'), ['--version'], { encoding: 'utf8', timeout: 10_000 });
    } catch (err) {
      tried.push(
        `${from}: ${join(bin, 'pg_ctl')} --version failed (${(err as Error).message.split('\n')[0]})`,
      );
      return undefined;
    }
    const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(version)?.[1]);
    if (!(major >= MIN_PG_MAJOR)) {
      tried.push(`${from}: ${bin} is ${version.trim()} (need >= ${MIN_PG_MAJOR})`);
      return undefined;
    }
    return { bin, major, from };
  };
  const search = (): PostgresServer | undefined => {
    const explicit = env['PROTECTOR_PG_BIN'];
    if (explicit) return check(explicit, 'PROTECTOR_PG_BIN');

    try {
      const bin = execFileSync('pg_config', ['--bindir'], {
        encoding: 'utf8',
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'ignore'],
        env,
      }).trim();
      const server = bin ? check(bin, 'pg_config --bindir') : undefined;
      if (server) return server;
    } catch {
      tried.push('pg_config --bindir: no pg_config on PATH, or it failed');
    }

    const onPath = (program: string) =>
      (env['PATH'] ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, program))
        .find(isExecutable);
    const pgCtl = onPath('pg_ctl');
    if (pgCtl && onPath('initdb')) {
      const server = check(dirname(realpathSync(pgCtl)), `PATH (${pgCtl})`);
      if (server) return server;
    } else tried.push('PATH: no pg_ctl and initdb');

    const lib = '/usr/lib/postgresql';
    const majors = existsSync(lib)
      ? readdirSync(lib)
          .filter((n) => /^\d+$/.test(n) && Number(n) >= MIN_PG_MAJOR)
          .map(Number)
          .sort((a, b) => b - a)
      : [];
    for (const n of majors) {
      const server = check(join(lib, String(n), 'bin'), lib);
      if (server) return server;
    }
    if (majors.length === 0) tried.push(`${lib}: no version >= ${MIN_PG_MAJOR}`);
    return undefined;
  };
  const server = search();
  if (server && userInfo().uid === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      tried.push(
        `${server.bin} is fine, but as root the cluster runs as the user postgres, which does not exist`,
      );
      return { tried };
    }
  }
  return server ? { server, tried } : { tried };
}

const found = findPostgresServer();

/** The PostgreSQL server binaries the tests use (see {@link findPostgresServer}); undefined if none. */
export const PG_BIN: string | undefined = found.server?.bin;

/** Whether a throwaway cluster can be started here (CI installs Debian's postgresql). */
export const hasTestPostgres: boolean = PG_BIN !== undefined;

/** What the PostgreSQL suites need: `needs(testPostgres).describe(...)`. */
export const testPostgres: Requirement = requirement(
  `PostgreSQL >= ${MIN_PG_MAJOR} server binaries (initdb, pg_ctl)`,
  hasTestPostgres,
  'apt-get install -y postgresql',
  found.tried.join('; '),
);

export interface TestPostgres {
  /** URL of the `postgres` database, over the cluster's Unix socket (its dir, encoded, as the host). */
  readonly url: string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a PostgreSQL cluster in a temp dir (fsync off, trust auth, user `protector`). PostgreSQL cannot
 * listen on port 0 and say what it bound, so the cluster listens on no TCP port at all: only on a Unix
 * socket in its own temp dir, which no other process can take. The URLs name that dir as the host,
 * percent-encoded: `postgresql://protector:unused@%2Ftmp%2Fprotector-pg-XXXXXX/<db>` (node-postgres
 * reads a host starting with `/` as a socket dir). initdb refuses to run as root, so as root the cluster
 * runs as the `postgres` user.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  if (PG_BIN === undefined) throw needsError([testPostgres], 'Gate the suite with needs(testPostgres).');
  const bin = PG_BIN;
  const dir = await mkdtemp(join(tmpdir(), 'protector-pg-'));
  const asRoot = userInfo().uid === 0;
  const exec = (program: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]]
      : [join(bin, program), args];
    return run(file, argv, { timeout: 60_000 });
  };
  if (asRoot) {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(uid.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  // A linguistic collation (ICU, built into Debian's PostgreSQL), as production databases usually have:
  // the product must not depend on the C collation's byte order.
  await exec('initdb', [
    '-D',
    data,
    '-U',
    'protector',
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C.UTF-8',
    '--locale-provider=icu',
    '--icu-locale=en-US',
    '--no-sync',
  ]);
  await exec('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-o',
    `-k ${dir} -c listen_addresses='' -c fsync=off`,
    'start',
  ]);
  const url = (db: string) => `postgresql://protector:unused@${encodeURIComponent(dir)}/${db}`;
  return {
    url: url('postgres'),
    async createDatabase(name) {
      await exec('createdb', ['-h', dir, '-U', 'protector', name]);
      return url(name);
    },
    async stop() {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
