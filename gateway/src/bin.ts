#!/usr/bin/env node
/** `protector-gateway --config /etc/protector/gateway.conf [--check-config]` */
import { runServiceMain } from '@protector/platform/server';
import { loadGatewayConfig, redactGatewayConfig } from './config/index.js';
import { startProtectorGateway } from './main.js';

await runServiceMain({
  name: 'protector-gateway',
  defaultConfig: '/etc/protector/gateway.conf',
  configEnv: 'PROTECTOR_GATEWAY_CONFIG',
  load: (path) => loadGatewayConfig({ path }),
  redact: redactGatewayConfig,
  start: (config) => startProtectorGateway(config),
  readyLine: (_, url) => `protector-gateway ready at ${url}`,
});
