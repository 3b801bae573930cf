/**
 * The option table of `protector.conf`, the site service's configuration
 * (`protector-site --config /etc/protector/protector.conf`). Every option is documented here; the
 * reference in docs/configuration.md is generated from this table and checked for drift.
 */

import {
  type ConfigRuleProblem,
  defineConfigTable,
  option,
  type PartialConfigView,
} from '@protector/platform';
import { queryLimitOptions, rateLimitOptions } from '@protector/platform/server';
import { POLICY_BOUNDS, redactUrlPassword } from '@protector/schema';

/** True when the Mock storage driver is on: [storage] array credentials are then ignored entirely (seed). */
const mockStorageOn = (config: PartialConfigView): boolean =>
  config['DEFAULT']?.['use_mock_storage'] === true;

/** The four [storage] options the Pure FlashArray driver cannot start without. */
export const ARRAY_CREDENTIAL_OPTIONS = [
  'primary_array_url',
  'primary_array_api_token',
  'secondary_array_url',
  'secondary_array_api_token',
] as const;

/** The [keystone_authtoken] options a site needs to reach a real cloud. */
export const KEYSTONE_REQUIRED_OPTIONS = ['auth_url', 'username', 'password', 'project_name'] as const;

const KEYSTONE_REQUIRED_WHEN = 'unless `use_simulated_cloud = True`';

const SQLITE = /^sqlite:\/\/\/(\/.+|:memory:)$/;
const POSTGRES = /^postgres(?:ql)?:\/\/[^/]+\/[^/?#]+/;

/**
 * A Cinder pool host, `host@backend#pool`: each part of Cinder's host characters
 * (cinder/api/validation/parameter_types.py cinder_host), one `@` and one `#`.
 */
const CINDER_POOL_HOST = /^[a-zA-Z0-9-._:/+[\]]+@[a-zA-Z0-9-._:/+[\]]+#[a-zA-Z0-9-._:/+[\]]+$/;

/** The Cinder host managing array volumes when `[cinder] volume_host` is not set. */
export const DEFAULT_CINDER_VOLUME_HOST = 'cinder@pure#pure';

const list = (names: readonly string[]): string => names.join(', ');
const areNotSet = (names: readonly string[]): string =>
  `${list(names)} ${names.length === 1 ? 'is' : 'are'} not set`;

export const siteConfigTable = defineConfigTable({
  fileName: 'protector.conf',
  envPrefix: 'PROTECTOR',
  generatedFrom: 'subgraph-site/src/config/site-options.ts',
  intro: `The site service (\`protector-site --config /etc/protector/protector.conf\`) reads one INI file in the
oslo.config style: \`[section]\` headers, \`name = value\` lines, whole-line \`#\` or \`;\` comments (a \`#\`
after a value is part of the value). Booleans accept True/False, yes/no, on/off and 1/0 in any case.

Each option can be overridden by an environment variable \`PROTECTOR_<SECTION>__<NAME>\` (upper-case),
e.g. \`PROTECTOR_DEFAULT__SITE_NAME\` or \`PROTECTOR_API__BIND_PORT\`; empty variables count as unset.
Precedence: environment, then file, then default. A default such as \`$state_path/mock_storage\` is
relative to another option; path values in the file may use \`$state_path\` too (\`$$\` for a literal \`$\`).

Unknown sections and options, malformed values and missing options stop start-up with one
\`CONFIG_INVALID\` error that lists every problem, with the option, the offending value (never a secret's)
and the fix. Secrets are never logged: they show as \`***\`.

Regenerate this file with \`npx vitest run src/config -u\` in \`subgraph-site/\`.`,
  sectionDescriptions: {
    DEFAULT: 'Site identity, logging, state and the choice between real and simulated storage and cloud.',
    storage: `Pure Storage FlashArray connection parameters, used when \`use_mock_storage\` is False (the default);
then the four array options are required. With \`use_mock_storage = True\` the array URLs and tokens are
ignored entirely. Repeat the block on the other site with that site's perspective: primary and secondary
are workload-relative labels and both sites are configured symmetrically.`,
    database: `Where the site keeps its metadata (Protection Groups, policies, operations), and the key that
encrypts array API tokens and service passwords at rest.`,
    keystone_authtoken: `Keystone: validating the tokens callers send, and the service user this site acts as
in its own cloud. \`auth_url\`, \`username\`, \`password\` and \`project_name\` are required unless
\`use_simulated_cloud = True\`.`,
    cinder: `How recovered array volumes enter this site's Cinder: "manage existing" adopts each array copy into the
Cinder volume service (its FlashArray backend) named here, which renames it \`volume-<volume id>-cinder\`.`,
    openstack: 'The built-in OpenStack simulator, used only when `use_simulated_cloud = True` (lab and CI).',
    api: "The site service's GraphQL endpoint.",
  },
  sections: {
    DEFAULT: {
      site_name: option.string({
        description: `This site's name, e.g. \`site_a\`. It becomes the site's subgraph name in the federation, so
it must be a valid GraphQL name and different on each site.`,
        required: true,
        pattern: /^[a-z][a-z0-9_]{0,30}$/,
        patternHint: 'a lower-case letter followed by up to 30 lower-case letters, digits or underscores',
      }),
      debug: option.bool({ description: 'Log at DEBUG level instead of INFO.', default: false }),
      log_dir: option.path({ description: 'Directory for the log files.', default: '/var/log/protector' }),
      state_path: option.path({
        description: "Top-level directory for the service's state; other paths default to places under it.",
        default: '/var/lib/protector',
      }),
      use_mock_storage: option.bool({
        description: `When True, the engine uses the Mock storage driver (SQLite-backed) instead of communicating
with a real FlashArray. Set this for lab or CI environments where physical arrays are unavailable.
[storage] array credentials are then ignored entirely.`,
        default: false,
      }),
      mock_storage_dir: option.path({
        description: `Where the Mock storage driver keeps its SQLite database and simulated volume metadata. It must
exist and be writable by the protector service user.`,
        default: '$state_path/mock_storage',
      }),
      mock_arrays: option.list({
        description: `Names of the FlashArrays the Mock driver simulates, the local array first and the peer site's
array second.`,
        default: ['mock-array-a', 'mock-array-b'],
        minItems: 1,
        unique: true,
        pattern: /^(?!\d+$)[A-Za-z0-9][A-Za-z0-9-]{0,62}$/,
        patternHint: 'a FlashArray name (1-63 letters, digits or "-", starting with a letter or digit)',
      }),
      mock_transfer_ms: option.int({
        description: `Simulated time the Mock driver takes to replicate one group snapshot to the peer array, in
milliseconds. Short values make lab drills quick; long ones let you watch transfers in progress.`,
        default: 2000,
        min: 0,
      }),
      recovery_concurrency: option.int({
        description: `Members a recovery boots at once (within one boot priority; as many more are prepared
meanwhile: array copies, Cinder manage), and test volumes a drill's cleanup deletes at once.`,
        default: 8,
        min: 1,
      }),
      replication_monitor_interval: option.int({
        description: `Seconds between checks of replication status, RPO compliance and the replication link; changes
are published as site events.`,
        default: 10,
        min: 1,
      }),
      use_simulated_cloud: option.bool({
        description: `When True, the service talks to the built-in OpenStack simulator configured in [openstack]
instead of a real cloud's Keystone, Nova, Cinder and Neutron. For lab and CI environments.`,
        default: false,
      }),
    },
    storage: {
      primary_array_url: option.url({
        description: `Management URL of the FlashArray associated with the primary OpenStack site. Both sites list
the same two arrays with the same values (primary and secondary are workload-relative labels); \`local_array\`
says which of them is this site's own.`,
        httpsOnly: true,
        ignoreWhen: mockStorageOn,
        requiredWhen: 'unless `use_mock_storage = True`',
        fixHint: 'The FlashArray management interface serves HTTPS only; for a private CA set ca_bundle.',
      }),
      primary_array_api_token: option.string({
        description: `API token for the primary FlashArray. A secret: never logged or returned by the API, and
stored encrypted at rest.`,
        secret: true,
        ignoreWhen: mockStorageOn,
        requiredWhen: 'unless `use_mock_storage = True`',
      }),
      secondary_array_url: option.url({
        description: `Management URL of the FlashArray at the secondary (DR) site. The engine needs visibility to
both arrays to orchestrate snapshot promotion during failover.`,
        httpsOnly: true,
        ignoreWhen: mockStorageOn,
        requiredWhen: 'unless `use_mock_storage = True`',
        fixHint: 'The FlashArray management interface serves HTTPS only; for a private CA set ca_bundle.',
      }),
      secondary_array_api_token: option.string({
        description: 'API token for the secondary FlashArray. A secret, like primary_array_api_token.',
        secret: true,
        ignoreWhen: mockStorageOn,
        requiredWhen: 'unless `use_mock_storage = True`',
      }),
      local_array: option.enum({
        description: `Which array of [storage] is this site's own: the one its Cinder volumes live on, where it
recovers and which it replicates from. The only [storage] line that differs between the two sites' files: site A
(the primary site of the product documentation's Example 1) keeps \`primary\`, site B sets \`secondary\`.`,
        choices: ['primary', 'secondary'],
        default: 'primary',
        ignoreWhen: mockStorageOn,
      }),
      default_replication_interval: option.int({
        description: `Default interval between async replication snapshots, used as the initial value when a
replication policy is created without an explicit interval. Overridden per Protection Group by its policy;
changing it does not alter existing policies.`,
        default: 300,
        min: POLICY_BOUNDS.replicationIntervalSeconds.min,
        max: POLICY_BOUNDS.replicationIntervalSeconds.max,
        unit: 'seconds',
      }),
      default_rpo_minutes: option.int({
        description: `Default Recovery Point Objective, used as the initial value for new replication policies.
Overridden per Protection Group; changing it does not alter existing policies.`,
        default: 15,
        min: POLICY_BOUNDS.rpoMinutes.min,
        max: POLICY_BOUNDS.rpoMinutes.max,
        unit: 'minutes',
      }),
      ca_bundle: option.path({
        description:
          "CA bundle (PEM) that signs the arrays' TLS certificates. Unset: the system trust store.",
      }),
      verify_tls: option.bool({
        description: "Verify the arrays' TLS certificates. Turn off only in a lab with self-signed arrays.",
        default: true,
      }),
      concurrency: option.int({
        description:
          'Requests the driver sends an array at once for bulk volume work (create, destroy, copy), and groups the replication monitor reads at once when it first sees them (at start, every group).',
        default: 16,
        min: 1,
      }),
      request_timeout: option.int({
        description: 'Timeout of one request to an array.',
        default: 30,
        min: 1,
        unit: 'seconds',
      }),
    },
    database: {
      connection: option.string({
        description: `Database URL: \`sqlite:///<absolute path>\` (note the fourth slash of an absolute path) or
\`postgresql://user:password@host:5432/dbname\` for PostgreSQL. The password is redacted in logs.`,
        default: 'sqlite:///$state_path/protector-site.sqlite',
        patternHint: 'a database URL',
        check: (value) =>
          SQLITE.test(value) || POSTGRES.test(value)
            ? undefined
            : 'is neither sqlite:///<absolute path> nor postgresql://user:password@host/dbname',
        redact: redactUrlPassword,
        fixHint:
          'For example sqlite:////var/lib/protector/protector-site.sqlite or postgresql://protector:***@db/protector.',
      }),
      encryption_key: option.string({
        description: `Key that encrypts array API tokens and service passwords stored in the database, e.g. the
output of \`openssl rand -base64 32\`. Unset: the key is read from encryption_key_file.`,
        secret: true,
        minLength: 32,
      }),
      encryption_key_file: option.path({
        description: `File holding the encryption key when encryption_key is unset. If it is missing the service
creates it on first start (32 random bytes, base64, mode 0600); back it up, since stored tokens cannot be
decrypted without it.`,
        default: '$state_path/secret.key',
      }),
    },
    keystone_authtoken: {
      www_authenticate_uri: option.url({
        description: `Public Keystone endpoint that unauthenticated callers are sent to (WWW-Authenticate header).
Unset: auth_url.`,
      }),
      auth_url: option.url({
        requiredWhen: KEYSTONE_REQUIRED_WHEN,
        description: `Keystone endpoint used to validate tokens and to authenticate the service user, e.g.
\`https://keystone.example.com:5000/v3\`.`,
      }),
      token_cache_time: option.int({
        description: 'How long a validated token is cached; 0 turns the cache off.',
        default: 300,
        min: 0,
        unit: 'seconds',
      }),
      username: option.string({
        description: 'Name of the service user.',
        requiredWhen: KEYSTONE_REQUIRED_WHEN,
      }),
      password: option.string({
        description: 'Password of the service user.',
        secret: true,
        requiredWhen: KEYSTONE_REQUIRED_WHEN,
      }),
      project_name: option.string({
        description: "The service user's project.",
        requiredWhen: KEYSTONE_REQUIRED_WHEN,
      }),
      user_domain_name: option.string({ description: 'Domain of the service user.', default: 'Default' }),
      project_domain_name: option.string({
        description: "Domain of the service user's project.",
        default: 'Default',
      }),
      region_name: option.string({
        description:
          "Region of this site's endpoints in the service catalog. Unset: the catalog's only region.",
      }),
      interface: option.enum({
        description:
          "Which endpoints of the service catalog to use for Keystone and this site's OpenStack services.",
        choices: ['public', 'internal', 'admin'],
        default: 'internal',
      }),
    },
    cinder: {
      volume_host: option.string({
        description: `The Cinder host, \`host@backend#pool\`, whose Pure Storage FlashArray backend manages this site's
array volumes: recovered and drill volumes are managed into Cinder there ("manage existing"), and Cinder's Pure driver
renames each to \`volume-<volume id>-cinder\`. \`cinder get-pools\` (admin) lists the pools; Cinder's Pure driver reports
one per backend, named \`<cinder-volume host>@<backend>#<volume_backend_name>\`, and volumes Cinder created on the array
show it as \`os-vol-host-attr:host\`. \`protector site validate\` checks it against the cloud's volume services and
pools. With \`use_simulated_cloud = True\` the simulator runs a volume service and pool of this name.`,
        default: DEFAULT_CINDER_VOLUME_HOST,
        pattern: CINDER_POOL_HOST,
        patternHint: 'a Cinder pool host of the form host@backend#pool, e.g. cinder@pure#pure',
        fixHint:
          "List the pools as an admin with `cinder get-pools` (or GET /v3/{project_id}/scheduler-stats/get_pools) on this site's cloud and copy the name of the FlashArray backend's pool.",
      }),
    },
    openstack: {
      sim_host: option.string({ description: 'Address the simulator listens on.', default: '127.0.0.1' }),
      sim_port: option.int({
        description: 'Port of the simulator; 0 picks a free port.',
        default: 0,
        min: 0,
        max: 65535,
      }),
      sim_latency_ms: option.int({
        description: 'Delay added to every simulated API call.',
        default: 0,
        min: 0,
        unit: 'milliseconds',
      }),
      sim_boot_seconds: option.int({
        description: 'How long a simulated server takes to become ACTIVE.',
        default: 2,
        min: 0,
        unit: 'seconds',
      }),
      sim_data_file: option.path({
        description: "SQLite file holding the simulated cloud's state.",
        default: '$state_path/cloud-sim.sqlite',
      }),
    },
    api: {
      bind_host: option.string({
        description: `Address to listen on. The default, 0.0.0.0, listens on every interface, as OpenStack API
services do; use 127.0.0.1 behind a local proxy.`,
        default: '0.0.0.0',
      }),
      bind_port: option.int({
        description: 'Port to listen on; 0 picks a free port (tests).',
        default: 8788,
        min: 0,
        max: 65535,
      }),
      public_url: option.url({
        description: `URL of this service's GraphQL endpoint as the gateway and the peer site reach it, e.g.
\`https://protector-a.example.com:8788/graphql\`. Set it when the service is behind a proxy or bound to 0.0.0.0.`,
      }),
      metrics_token: option.string({
        description:
          'When set, `/metrics` answers only requests with `Authorization: Bearer <metrics_token>` (for the Prometheus scraper).',
        secret: true,
      }),
      ...queryLimitOptions,
      ...rateLimitOptions,
    },
  },
  validate(config, { isSet }) {
    const problems: ConfigRuleProblem[] = [];
    if (config.DEFAULT.use_mock_storage === false) {
      // The product documentation's "Engine fails to start: [storage] options missing", as one problem naming every missing key.
      const missing = ARRAY_CREDENTIAL_OPTIONS.filter((name) => !isSet('storage', name));
      if (missing.length > 0) {
        problems.push({
          section: 'storage',
          message: `[storage] options missing: ${areNotSet(missing)} and use_mock_storage is False, so the Pure FlashArray driver cannot initialize.`,
          fix: `Either add a complete [storage] block with valid ${list(ARRAY_CREDENTIAL_OPTIONS.slice(0, 3))} and ${ARRAY_CREDENTIAL_OPTIONS[3]} values, or set use_mock_storage = True in [DEFAULT] for non-production environments. Restart protector-site after editing.`,
        });
      }
      const { primary_array_url: primary, secondary_array_url: secondary } = config.storage;
      if (
        primary !== undefined &&
        secondary !== undefined &&
        new URL(primary).host === new URL(secondary).host
      ) {
        problems.push({
          section: 'storage',
          option: 'secondary_array_url',
          message: `[storage] primary_array_url and secondary_array_url both point at ${new URL(primary).host}.`,
          fix: "Set secondary_array_url to the management URL of the DR site's FlashArray.",
        });
      }
    }
    if (config.DEFAULT.use_simulated_cloud === false) {
      const missing = KEYSTONE_REQUIRED_OPTIONS.filter((name) => !isSet('keystone_authtoken', name));
      if (missing.length > 0) {
        problems.push({
          section: 'keystone_authtoken',
          message: `[keystone_authtoken] options missing: ${areNotSet(missing)} and use_simulated_cloud is False, so the site cannot reach its cloud.`,
          fix: `Either add them to [keystone_authtoken] (the service user this site acts as), or set use_simulated_cloud = True in [DEFAULT] for lab and CI environments.`,
        });
      }
    }
    return problems;
  },
});
