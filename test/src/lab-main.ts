#!/usr/bin/env node
/** `npm start`: runs the two-site lab until Ctrl-C. State lives in `.lab/` (or $PROTECTOR_LAB_DIR). */
import { fileURLToPath } from 'node:url';
import { startLab, waitForReplication } from './lab.js';

const dir = process.env.PROTECTOR_LAB_DIR ?? fileURLToPath(new URL('../../.lab', import.meta.url));
const port = Number(process.env.PROTECTOR_LAB_PORT ?? 4000);
const storage = process.env.PROTECTOR_LAB_STORAGE ?? 'mock';
if (storage !== 'mock' && storage !== 'fa-sim') {
  process.stderr.write(
    `PROTECTOR_LAB_STORAGE='${storage}' is not a lab storage: use 'mock' (the default) or 'fa-sim' (the pure driver against the FlashArray REST simulator).\n`,
  );
  process.exit(2);
}

process.stdout.write(
  `Starting the Protector lab in ${dir} (two sites on ${storage} arrays, gateway on port ${port})...\n`,
);
const lab = await startLab({ dir, gatewayPort: port, storage }).catch((err: Error) => {
  process.stderr.write(`The lab did not start: ${err.message}\nLogs: ${dir}/*/*.log\n`);
  process.exit(1);
});
const tenant = await lab.tenantTokens();
// A drill needs a complete replicated recovery point that holds every member: wait for the first
// one after the members were added (the policy replicates every ${lab.replicationIntervalSeconds} s).
process.stdout.write('Waiting for the first replicated recovery point of prod-web-app...\n');
const replicated = await waitForReplication(lab, tenant, lab.demoChangedAt).catch((err: Error) => {
  process.stderr.write(`${err.message}\nLogs: ${dir}/*/*.log\n`);
  return false;
});
if (!replicated) {
  await lab.stop();
  process.exit(1);
}
const admin = await lab.adminTokens();
const playground = lab.gatewayUrl.replace(/\/graphql$/, '/');
const headers = (t: Record<string, string>) =>
  JSON.stringify(Object.fromEntries(Object.entries(t).map(([k, v]) => [`X-Site-Token-${k}`, v])), null, 2);

process.stdout.write(`
Protector lab is up.

  Playground:  ${playground}
  GraphQL:     ${lab.gatewayUrl} (graphql-ws on the same URL)
  Sites:       ${Object.values(lab.sites)
    .map((s) => `${s.name} ${s.url} (Keystone ${s.keystoneUrl})`)
    .join('\n               ')}

Headers for the tenant 'demo' (paste into the playground's Headers tab):
${headers(tenant)}

Headers for the admin (site registration, storage state):
${headers(admin)}

For the CLI (npx protector), as the tenant 'demo':
export PROTECTOR_URL=${lab.gatewayUrl}
export PROTECTOR_SITE_TOKENS="${Object.entries(tenant)
  .map(([k, v]) => `${k}=${v}`)
  .join(',')}"

Demo data: Protection Group 'prod-web-app' (boston -> seattle) with VMs web-1 and web-2.
Logs: ${dir}/<site>/site.log, ${dir}/gateway/gateway.log. Tokens last one hour; restart to refresh.
Press Ctrl-C to stop; run npm start again to carry on where you stopped.
`);

const stop = async () => {
  process.stdout.write('\nStopping the lab...\n');
  await lab.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
