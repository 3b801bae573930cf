/**
 * `gateway.conf`, the coordinator gateway's configuration (`protector-gateway --config gateway.conf`):
 * compiled with the environment (`PROTECTOR_GATEWAY_<SECTION>__<NAME>`) into a typed, frozen config.
 */
import {
  type ConfigEnv,
  type ConfigOf,
  compileConfig,
  defineConfigTable,
  option,
  redactConfig,
  renderConfigReference,
} from '@protector/platform';
import { queryLimitOptions, rateLimitOptions } from '@protector/platform/server';

const DATABASE_URL = /^(sqlite:\/\/\/(\/.+|:memory:)|postgres(?:ql)?:\/\/[^/]+\/[^/?#]+)$/;

export const gatewayConfigTable = defineConfigTable({
  fileName: 'gateway.conf',
  envPrefix: 'PROTECTOR_GATEWAY',
  generatedFrom: 'gateway/src/config/index.ts',
  intro: `The coordinator gateway (\`protector-gateway --config /etc/protector/gateway.conf\`) reads one INI file in
the same oslo.config style as \`protector.conf\`. Each option can be overridden by an environment variable
\`PROTECTOR_GATEWAY_<SECTION>__<NAME>\` (upper-case), e.g. \`PROTECTOR_GATEWAY_API__BIND_PORT\`. Unknown
options and bad values stop start-up with one \`CONFIG_INVALID\` error listing every problem.

Sites are not configured here: register them with the \`registerSite\` mutation (or \`protector site create\`);
the registry lives in the gateway's database.

Regenerate this file with \`npx vitest run src/config -u\` in \`gateway/\`.`,
  sectionDescriptions: {
    DEFAULT: 'Where the gateway keeps its state, and logging.',
    api: 'The GraphQL endpoint (HTTP and graphql-ws on one port and path) and the playground.',
    database: 'The coordinator database: the site registry and the operation journal.',
    gateway: 'Federation and cross-site behaviour.',
  },
  sections: {
    DEFAULT: {
      debug: option.bool({ description: 'Log at DEBUG level instead of INFO.', default: false }),
      state_path: option.path({
        description: "Top-level directory for the gateway's state; other paths default to places under it.",
        default: '/var/lib/protector-gateway',
      }),
    },
    api: {
      bind_host: option.string({ description: 'Address to listen on.', default: '0.0.0.0' }),
      bind_port: option.int({
        description: 'Port of /graphql, graphql-ws and the playground; 0 picks a free port.',
        default: 4000,
        min: 0,
        max: 65535,
      }),
      playground: option.bool({
        description: 'Serve the GraphiQL playground at `/` (bundled, works offline).',
        default: true,
      }),
      ...queryLimitOptions,
      ...rateLimitOptions,
    },
    database: {
      connection: option.string({
        description:
          '`sqlite:///<absolute path>` or `postgresql://user:password@host:5432/dbname` (for several gateways).',
        default: 'sqlite:///$state_path/gateway.sqlite',
        patternHint: 'a database URL',
        check: (value) =>
          DATABASE_URL.test(value)
            ? undefined
            : 'is neither sqlite:///<absolute path> nor postgresql://user:password@host/dbname',
        redact: (url) => url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@'),
      }),
      encryption_key: option.string({
        description:
          'Key (64 hex digits or base64 of 32 bytes) that encrypts site service credentials at rest. Unset: read from `encryption_key_file`.',
        secret: true,
      }),
      encryption_key_file: option.path({
        description: 'Key file used when `encryption_key` is unset; created (mode 0600) when missing.',
        default: '$state_path/secret.key',
      }),
    },
    gateway: {
      supergraph_file: option.path({
        description:
          'A static supergraph SDL to serve instead of composing it from the registered sites (production pinning).',
      }),
      subgraph_timeout: option.int({
        description: 'How long a site may take to answer one request.',
        default: 10,
        min: 1,
        unit: 'seconds',
      }),
      site_max_in_flight: option.int({
        description:
          'Requests the gateway sends one site at once (identical ones merged count once); more wait for a turn, and one that cannot start within half of subgraph_timeout, or that runs out of time while others are at the site, is answered 503 OVERLOADED with Retry-After instead of late or partially. 0 = no limit.',
        default: 16,
        min: 0,
      }),
      health_interval: option.int({
        description:
          'How often every site is checked (reachability, storage, replication link, RPO); a site that returns is re-synced.',
        default: 10,
        min: 1,
        unit: 'seconds',
      }),
    },
  },
});

export type GatewayConfig = ConfigOf<typeof gatewayConfigTable.sections>;

export function loadGatewayConfig(
  input: { path?: string; text?: string; env?: ConfigEnv } = {},
): GatewayConfig {
  return compileConfig(gatewayConfigTable, input);
}

export const renderGatewayConfigReference = (): string => renderConfigReference(gatewayConfigTable);

export const redactGatewayConfig = (config: GatewayConfig) => redactConfig(config, gatewayConfigTable);
