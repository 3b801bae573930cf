#!/usr/bin/env node
/** `protector-gateway --config /etc/protector/gateway.conf [--check-config]` */
import { parseArgs } from 'node:util';
import { isProtectorError } from '@protector/schema';
import { loadGatewayConfig, redactGatewayConfig } from './config/index.js';
import { consoleLog, startProtectorGateway } from './main.js';

const usage = 'usage: protector-gateway --config /etc/protector/gateway.conf [--check-config]';

async function main(): Promise<number> {
  let values: { config?: string; 'check-config'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { config: { type: 'string' }, 'check-config': { type: 'boolean' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(`protector-gateway: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const path = values.config ?? process.env.PROTECTOR_GATEWAY_CONFIG ?? '/etc/protector/gateway.conf';
  const config = loadGatewayConfig({ path });
  if (values['check-config']) {
    process.stdout.write(
      `${path}: configuration is valid\n${JSON.stringify(redactGatewayConfig(config), null, 2)}\n`,
    );
    return 0;
  }
  const gw = await startProtectorGateway(config);
  process.stdout.write(`protector-gateway ready at ${gw.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      consoleLog('INFO', `received ${signal}, stopping`);
      void gw.stop().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `protector-gateway: ${isProtectorError(err) ? `${err.code}: ${err.message}` : ((err as Error)?.stack ?? String(err))}\n`,
    );
    process.exit(1);
  },
);
