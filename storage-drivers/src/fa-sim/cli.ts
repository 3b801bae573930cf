#!/usr/bin/env node
/** `fa-sim --data-dir D --array arrayA:8443 --array arrayB:8444 --api-token T [--http] [--host H] [--transfer-ms N]` */
import { parseArgs } from 'node:util';
import { startFlashArraySimulator } from './server.js';

const usage =
  'usage: fa-sim --data-dir DIR --array NAME:PORT [--array NAME:PORT ...] --api-token TOKEN [--host 127.0.0.1] [--http] [--transfer-ms 2000]';

function fail(message: string): never {
  process.stderr.write(`fa-sim: ${message}\n${usage}\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        'data-dir': { type: 'string' },
        array: { type: 'string', multiple: true },
        'api-token': { type: 'string' },
        host: { type: 'string' },
        http: { type: 'boolean' },
        'transfer-ms': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();

if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (!values['data-dir']) fail('--data-dir is required');
if (!values['api-token']) fail('--api-token is required');
if (!values.array?.length) fail('give at least one --array NAME:PORT');
const arrays = values.array.map((spec) => {
  const m = /^([A-Za-z0-9-]+):(\d+)$/.exec(spec);
  if (!m) fail(`--array '${spec}' must be NAME:PORT, e.g. arrayA:8443`);
  return { name: m[1]!, port: Number(m[2]) };
});
const transferMs = values['transfer-ms'] === undefined ? undefined : Number(values['transfer-ms']);
if (transferMs !== undefined && !(Number.isInteger(transferMs) && transferMs >= 0)) {
  fail('--transfer-ms must be a whole number of milliseconds');
}

const sim = await startFlashArraySimulator({
  dataDir: values['data-dir'],
  arrays,
  apiToken: values['api-token'],
  host: values.host,
  http: values.http,
  transferMs,
}).catch((err: Error) => fail(err.message));

for (const a of sim.arrays) process.stdout.write(`fa-sim: array ${a.name} listening on ${a.url}\n`);
if (sim.certFile) process.stdout.write(`fa-sim: TLS certificate (use as CA bundle): ${sim.certFile}\n`);
process.stdout.write('fa-sim: ready\n');

const shutdown = () => {
  void sim.stop().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
