/** `protector site ...`: register, inspect, validate and remove the two sites. */
import { SITE_KEY_PATTERN } from '../../sdk/options.js';
import { lower } from '../format.js';
import {
  CommandFailure,
  type CommandSpec,
  requireOption,
  stringOption,
  UsageError,
  urlOption,
} from '../spec.js';
import { siteView } from './views.js';

const SITE_ARG = { name: 'site', description: 'Site name (as registered)' } as const;

/** Resolves a site name (or key) to the registered site. */
async function findSite(context: Parameters<CommandSpec['run']>[0], name: string) {
  const client = context.client();
  const site = (await client.site(name)) ?? (await client.sites()).find((s) => s.key === name) ?? null;
  if (!site)
    throw new CommandFailure('NOT_FOUND', `Site '${name}' is not registered; see 'protector site list'`);
  return site;
}

export const siteCommands: readonly CommandSpec[] = [
  {
    path: ['site', 'list'],
    summary: 'List the registered sites',
    examples: ['protector site list', 'protector site list -f json'],
    async run(context) {
      const sites = await context.client().sites();
      context.print({
        kind: 'list',
        columns: ['Name', 'Key', 'Status', 'Role', 'URL', 'Auth URL'],
        rows: sites.map((s) => [s.name, s.key, lower(s.status), lower(s.role), s.url, s.authUrl]),
      });
      return 0;
    },
  },
  {
    path: ['site', 'show'],
    summary: 'Show one site',
    positionals: [SITE_ARG],
    examples: ['protector site show boston'],
    async run(context) {
      context.print(siteView(await findSite(context, context.args['site'] ?? '')));
      return 0;
    },
  },
  {
    path: ['site', 'create'],
    summary: 'Register a site (admin); its key becomes a field of the API',
    positionals: [{ name: 'name', description: 'Site name, e.g. site-a' }],
    options: {
      key: { type: 'string', value: '<key>', description: 'GraphQL-safe site key, e.g. boston (required)' },
      'site-url': {
        type: 'string',
        value: '<url>',
        description: 'GraphQL endpoint of the site service (required)',
      },
      'auth-url': { type: 'string', value: '<url>', description: 'Keystone endpoint of the site (required)' },
      description: { type: 'string', value: '<text>', description: 'Description' },
      'service-username': {
        type: 'string',
        value: '<name>',
        description: 'Service user for background work',
      },
      'service-password': {
        type: 'string',
        value: '<password>',
        secret: true,
        description: 'Its password (or env PROTECTOR_SERVICE_PASSWORD); never printed',
      },
      'service-project': { type: 'string', value: '<name>', description: 'Its project' },
      'service-user-domain': {
        type: 'string',
        value: '<name>',
        description: 'Its user domain (default Default)',
      },
      'service-project-domain': {
        type: 'string',
        value: '<name>',
        description: 'Its project domain (default Default)',
      },
    },
    examples: [
      'protector site create site-a --key boston --site-url https://protector.boston.example.com:8788/graphql \\\n' +
        '      --auth-url https://keystone.boston.example.com:5000/v3',
    ],
    async run(context) {
      const { values } = context;
      const key = requireOption(values, 'key', 'boston');
      if (!SITE_KEY_PATTERN.test(key)) {
        throw new UsageError(
          `Option --key '${key}' is not a site key: use 1-31 lowercase letters, digits and '_', starting with a letter (e.g. boston)`,
        );
      }
      const url =
        urlOption(values, 'site-url') ??
        requireOption(values, 'site-url', 'https://protector.boston.example.com:8788/graphql');
      const authUrl =
        urlOption(values, 'auth-url') ??
        requireOption(values, 'auth-url', 'https://keystone.boston.example.com:5000/v3');
      const username = stringOption(values, 'service-username');
      const password = stringOption(values, 'service-password') ?? context.env['PROTECTOR_SERVICE_PASSWORD'];
      const projectName = stringOption(values, 'service-project');
      if (username !== undefined && (password === undefined || projectName === undefined)) {
        throw new UsageError(
          'Option --service-username needs --service-password (or PROTECTOR_SERVICE_PASSWORD) and --service-project',
        );
      }
      const description = stringOption(values, 'description');
      const userDomainName = stringOption(values, 'service-user-domain');
      const projectDomainName = stringOption(values, 'service-project-domain');
      const site = await context.client().registerSite({
        name: context.args['name'] ?? '',
        key,
        url,
        authUrl,
        ...(description === undefined ? {} : { description }),
        ...(username !== undefined && password !== undefined && projectName !== undefined
          ? {
              serviceCredentials: {
                username,
                password,
                projectName,
                ...(userDomainName === undefined ? {} : { userDomainName }),
                ...(projectDomainName === undefined ? {} : { projectDomainName }),
              },
            }
          : {}),
      });
      context.print(siteView(site));
      return 0;
    },
  },
  {
    path: ['site', 'delete'],
    summary: 'Unregister a site that holds no Protection Group (admin)',
    positionals: [SITE_ARG],
    async run(context) {
      const site = await context.client().unregisterSite(context.args['site'] ?? '');
      context.note(`Site '${site.name}' (${site.key}) unregistered`);
      return 0;
    },
  },
  {
    path: ['site', 'validate'],
    summary:
      'Check a site: service, Keystone, cloud APIs, arrays, replication link; exit 1 if a check failed',
    positionals: [SITE_ARG],
    examples: ['protector site validate site-a'],
    async run(context) {
      const validation = await context.client().validateSite(context.args['site'] ?? '');
      context.print({
        kind: 'list',
        columns: ['Check', 'Status', 'Message', 'Duration (ms)'],
        rows: validation.checks.map((c) => [c.name, lower(c.status), c.message, c.durationMs]),
      });
      if (!validation.valid) {
        const failed = validation.checks.filter((c) => c.status === 'FAILED').map((c) => c.name);
        throw new CommandFailure(
          'SITE_VALIDATION_FAILED',
          `Site '${validation.site.name}' failed ${failed.length} check(s): ${failed.join(', ')}`,
        );
      }
      return 0;
    },
  },
  {
    path: ['site', 'list-volume-types'],
    summary: "List a site's Cinder volume types and whether they can be protected",
    positionals: [SITE_ARG],
    examples: ['protector site list-volume-types site-a'],
    async run(context) {
      const site = await findSite(context, context.args['site'] ?? '');
      const types = await context.client().siteVolumeTypes(site.key);
      context.print({
        kind: 'list',
        columns: ['ID', 'Name', 'Replication Enabled', 'Replication Type', 'Public', 'Description'],
        rows: types.map((t) => [
          t.id,
          t.name,
          t.replicationEnabled,
          lower(t.replicationType),
          t.isPublic,
          t.description,
        ]),
      });
      return 0;
    },
  },
];
