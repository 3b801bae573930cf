#!/usr/bin/env node
/** `protector-site --config /etc/protector/protector.conf [--check-config]` */
import { runServiceMain } from '@protector/platform/server';
import { loadSiteConfig, redactSiteConfig } from './config/index.js';
import { startSiteService } from './site/service.js';

await runServiceMain({
  name: 'protector-site',
  defaultConfig: '/etc/protector/protector.conf',
  configEnv: 'PROTECTOR_CONFIG',
  load: (path) => loadSiteConfig({ path }),
  redact: redactSiteConfig,
  start: startSiteService,
  readyLine: (config, url) => `protector-site ${config.DEFAULT.site_name} ready at ${url}`,
});
