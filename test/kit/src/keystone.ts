/**
 * A real Keystone for tests (Debian's python3-keystone under gunicorn, SQLite, fernet tokens): the
 * requirement that says what to install, and starting one on port 0 with the URL it bound.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningProcess, startProcess } from './processes.js';
import { type Requirement, requirement } from './requirements.js';

const KEYSTONE_MANAGE = '/usr/bin/keystone-manage';
const START_KEYSTONE = fileURLToPath(new URL('../keystone/start-keystone.sh', import.meta.url));

/** keystone-manage, and the keystone and gunicorn modules of the system Python (start-keystone.sh runs both). */
export const realKeystone: Requirement = requirement(
  'Keystone (keystone-manage, gunicorn)',
  existsSync(KEYSTONE_MANAGE) &&
    spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import importlib.util as u, sys; sys.exit(not (u.find_spec("keystone") and u.find_spec("gunicorn")))',
      ],
      { env: { ...process.env, PYTHONPATH: '' }, stdio: 'ignore' },
    ).status === 0,
  'apt-get install -y --no-install-recommends python3-keystone python3-gunicorn',
  `${KEYSTONE_MANAGE}, or the keystone or gunicorn module of /usr/bin/python3, is missing`,
);

/** A started Keystone: its process and its v3 URL, answering. */
export interface RealKeystone {
  readonly process: RunningProcess;
  readonly url: string;
}

/** Starts a Keystone with its state under `workDir`, and waits until its v3 API answers. */
export async function startRealKeystone(o: {
  readonly workDir: string;
  readonly adminPassword: string;
  readonly timeoutMs: number;
}): Promise<RealKeystone> {
  // gunicorn binds port 0 and logs the address it got.
  const keystone = await startProcess({
    command: 'bash',
    args: [START_KEYSTONE, join(o.workDir, 'keystone'), o.adminPassword],
    name: 'keystone',
    // keystone-manage and gunicorn must run on the system Python, whatever python3 is on PATH.
    env: { ...process.env, PYTHONPATH: '' },
    // Own process group: the script execs gunicorn, whose workers must die with it.
    group: true,
    ready: /Listening at: (http:\/\/127\.0\.0\.1:\d+)/,
    timeoutMs: o.timeoutMs,
  });
  const url = `${keystone.ready[1]}/v3`;
  await keystone.waitFor(
    'Keystone to answer',
    async () => {
      const response = await fetch(url);
      await response.body?.cancel();
      return response.status === 200;
    },
    o.timeoutMs,
  );
  return { process: keystone, url };
}
