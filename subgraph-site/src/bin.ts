#!/usr/bin/env node
/** `protector-site --config /etc/protector/protector.conf [--check-config]` */
import { parseArgs } from 'node:util';
import { isProtectorError } from '@protector/schema';
import { loadSiteConfig, redactSiteConfig } from './config/index.js';
import { consoleLog, startSiteService } from './site/service.js';

const usage = 'usage: protector-site --config /etc/protector/protector.conf [--check-config]';

async function main(): Promise<number> {
  let values: { config?: string; 'check-config'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { config: { type: 'string' }, 'check-config': { type: 'boolean' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(`protector-site: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const path = values.config ?? process.env.PROTECTOR_CONFIG ?? '/etc/protector/protector.conf';
  const config = loadSiteConfig({ path });
  if (values['check-config']) {
    process.stdout.write(
      `${path}: configuration is valid\n${JSON.stringify(redactSiteConfig(config), null, 2)}\n`,
    );
    return 0;
  }
  const site = await startSiteService(config);
  process.stdout.write(`protector-site ${site.siteName} ready at ${site.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      consoleLog('INFO', 'protector.site', `received ${signal}, stopping`);
      void site.stop().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (isProtectorError(err)) {
      process.stderr.write(`protector-site: ${err.code}: ${err.message}\n`);
      const problems = (err.details as { problems?: { message?: string }[] }).problems;
      if (Array.isArray(problems) && !err.message.includes('\n')) {
        for (const p of problems)
          process.stderr.write(`  - ${typeof p === 'string' ? p : (p.message ?? JSON.stringify(p))}\n`);
      }
      process.exit(1);
    }
    process.stderr.write(`protector-site: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
