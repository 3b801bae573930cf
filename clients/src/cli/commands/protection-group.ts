import { arrayUrlProblem, flashArrayNameProblem, POLICY_BOUNDS } from '@protector/schema';
/** `protector protection-group ...` (alias `pg`), `member ...`, `policy ...` and `recovery-point list`. */
import type { ProtectionGroup } from '../../sdk/types.js';
import { lower } from '../format.js';
import {
  type CommandContext,
  CommandFailure,
  type CommandSpec,
  choiceOption,
  integerOption,
  requireOption,
  stringOption,
  UsageError,
  urlOption,
} from '../spec.js';
import { followOperation, policyCreatedView, policyView, protectionGroupView, WAIT_OPTION } from './views.js';

export const PG_ARG = { name: 'protection-group', description: 'Protection Group name or id' } as const;

/** The group named by the `<protection-group>` argument, or NOT_FOUND. */
export async function resolveGroup(context: CommandContext): Promise<ProtectionGroup> {
  const ref = context.args['protection-group'] ?? '';
  const pg = await context.client().findProtectionGroup(ref);
  if (!pg) {
    throw new CommandFailure(
      'NOT_FOUND',
      `Protection Group '${ref}' not found; see 'protector protection-group list'`,
    );
  }
  return pg;
}

const POLICY_OPTIONS = {
  'primary-fa-url': {
    type: 'string',
    value: '<url>',
    description: 'Management URL of the primary FlashArray',
  },
  'primary-fa-token': {
    type: 'string',
    value: '<token>',
    secret: true,
    description: 'API token of the primary FlashArray (stored encrypted, never shown)',
  },
  'secondary-fa-url': {
    type: 'string',
    value: '<url>',
    description: 'Management URL of the secondary FlashArray',
  },
  'secondary-fa-token': {
    type: 'string',
    value: '<token>',
    secret: true,
    description: 'API token of the secondary FlashArray (stored encrypted, never shown)',
  },
  'pure-pg-name': {
    type: 'string',
    value: '<name>',
    description: 'FlashArray protection group (async) or pod (sync) name',
  },
  'replication-interval': {
    type: 'string',
    value: '<seconds>',
    description: 'Seconds between replicated snapshots',
  },
  'rpo-minutes': { type: 'string', value: '<minutes>', description: 'Recovery point objective in minutes' },
} as const;

const policyCreate: CommandSpec = {
  path: ['policy', 'create'],
  aliases: [['protection-group', 'policy-create']],
  summary:
    "Create or update a group's replication policy (array URLs and tokens, array group name, interval, RPO)",
  positionals: [PG_ARG],
  options: POLICY_OPTIONS,
  examples: [
    'protector protection-group policy-create prod-web-app \\\n' +
      '      --primary-fa-url https://flasharray-a.example.com --primary-fa-token "$PRIMARY_FA_TOKEN" \\\n' +
      '      --secondary-fa-url https://flasharray-b.example.com --secondary-fa-token "$SECONDARY_FA_TOKEN" \\\n' +
      '      --pure-pg-name pg-prod-web-app --replication-interval 300 --rpo-minutes 15',
  ],
  async run(context) {
    const { values } = context;
    const purePgName = stringOption(values, 'pure-pg-name');
    const badName = purePgName === undefined ? null : flashArrayNameProblem(purePgName);
    if (badName) throw new UsageError(`Option --pure-pg-name: ${badName} (e.g. pg-prod-web-app)`);
    const policy = {
      primaryArrayUrl: urlOption(values, 'primary-fa-url', arrayUrlProblem),
      primaryArrayToken: stringOption(values, 'primary-fa-token'),
      secondaryArrayUrl: urlOption(values, 'secondary-fa-url', arrayUrlProblem),
      secondaryArrayToken: stringOption(values, 'secondary-fa-token'),
      purePgName,
      replicationIntervalSeconds: integerOption(
        values,
        'replication-interval',
        POLICY_BOUNDS.replicationIntervalSeconds,
      ),
      rpoMinutes: integerOption(values, 'rpo-minutes', POLICY_BOUNDS.rpoMinutes),
    };
    for (const [option, token] of [
      ['primary-fa-token', policy.primaryArrayToken],
      ['secondary-fa-token', policy.secondaryArrayToken],
    ] as const) {
      if (token !== undefined && token.trim().length === 0) {
        throw new UsageError(`Option --${option} is empty; pass the array's API token`);
      }
    }
    const set = Object.fromEntries(Object.entries(policy).filter(([, value]) => value !== undefined));
    if (Object.keys(set).length === 0) {
      throw new UsageError(
        `Nothing to set: give at least one of ${Object.keys(POLICY_OPTIONS)
          .map((o) => `--${o}`)
          .join(', ')}`,
      );
    }
    const pg = await context.client().createReplicationPolicy({
      protectionGroup: context.args['protection-group'] ?? '',
      policy: set,
    });
    context.print(policyCreatedView(pg));
    return 0;
  },
};

const REPLICATION_TYPE_WORDS = ['async', 'sync'] as const;

export const protectionGroupCommands: readonly CommandSpec[] = [
  {
    path: ['protection-group', 'create'],
    summary: 'Create a Protection Group on both sites',
    positionals: [{ name: 'name', description: 'Group name (unique in the project)' }],
    options: {
      'replication-type': {
        type: 'string',
        value: 'async|sync',
        description: 'How the arrays replicate (required)',
      },
      'primary-site': {
        type: 'string',
        value: '<site>',
        description: 'Site where the workload runs (required)',
      },
      'secondary-site': { type: 'string', value: '<site>', description: 'DR site (required)' },
      'volume-type': {
        type: 'string',
        value: '<type>',
        description: 'Replication-enabled Cinder volume type on both sites (required)',
      },
      description: { type: 'string', value: '<text>', description: 'Description' },
      project: {
        type: 'string',
        value: '<project-id>',
        description: "Owning project (default: the caller's)",
      },
    },
    examples: [
      'protector pg create prod-web-app --replication-type async --primary-site site-a --secondary-site site-b \\\n' +
        '      --volume-type replicated-ssd',
    ],
    async run(context) {
      const { values } = context;
      const type = choiceOption(values, 'replication-type', REPLICATION_TYPE_WORDS);
      if (!type)
        throw new UsageError('Option --replication-type is required; add --replication-type async (or sync)');
      const primarySite = requireOption(values, 'primary-site', 'site-a');
      const secondarySite = requireOption(values, 'secondary-site', 'site-b');
      if (primarySite === secondarySite) {
        throw new UsageError(
          'Options --primary-site and --secondary-site name the same site; give two different sites',
        );
      }
      const volumeType = requireOption(values, 'volume-type', 'replicated-ssd');
      const description = stringOption(values, 'description');
      const projectId = stringOption(values, 'project');
      const pg = await context.client().createProtectionGroup({
        name: context.args['name'] ?? '',
        replicationType: type === 'async' ? 'ASYNC' : 'SYNC',
        primarySite,
        secondarySite,
        volumeType,
        ...(description === undefined ? {} : { description }),
        ...(projectId === undefined ? {} : { projectId }),
      });
      context.print(protectionGroupView(pg));
      return 0;
    },
  },
  {
    path: ['protection-group', 'list'],
    summary: 'List Protection Groups',
    options: {
      name: { type: 'string', value: '<name>', description: 'Only the group with this exact name' },
      'primary-site': {
        type: 'string',
        value: '<site>',
        description: 'Only groups whose current primary is this site',
      },
      limit: { type: 'string', value: '<n>', description: 'At most this many groups (default 50)' },
    },
    async run(context) {
      const { values } = context;
      const name = stringOption(values, 'name');
      const primarySite = stringOption(values, 'primary-site');
      const first = integerOption(values, 'limit', { min: 1, max: 500, unit: 'groups' });
      const page = await context.client().protectionGroups({
        filter: {
          ...(name === undefined ? {} : { name }),
          ...(primarySite === undefined ? {} : { primarySite }),
        },
        ...(first === undefined ? {} : { first }),
      });
      context.print({
        kind: 'list',
        columns: [
          'ID',
          'Name',
          'Status',
          'Sync Status',
          'Replication Type',
          'Primary Site',
          'Secondary Site',
          'Members',
        ],
        rows: page.nodes.map((pg) => [
          pg.id,
          pg.name,
          lower(pg.status),
          lower(pg.syncStatus),
          lower(pg.replicationType),
          pg.currentPrimarySite.name,
          pg.secondarySite.name,
          pg.members.length,
        ]),
      });
      if (page.pageInfo.hasNextPage)
        context.note(`${page.totalCount} groups in all; use --limit to see more`);
      return 0;
    },
  },
  {
    path: ['protection-group', 'show'],
    summary: 'Show a Protection Group',
    positionals: [PG_ARG],
    async run(context) {
      context.print(protectionGroupView(await resolveGroup(context)));
      return 0;
    },
  },
  {
    path: ['protection-group', 'delete'],
    summary: 'Delete a Protection Group on both sites',
    positionals: [PG_ARG],
    options: { force: { type: 'boolean', description: 'Delete even if the group still has members' } },
    async run(context) {
      const deleted = await context.client().deleteProtectionGroup({
        protectionGroup: context.args['protection-group'] ?? '',
        force: context.values['force'] === true,
      });
      context.note(`Protection Group '${deleted.name}' (${deleted.id}) deleted`);
      return 0;
    },
  },
  {
    path: ['protection-group', 'sync-status'],
    summary: "Show whether both sites hold the same metadata for a group, and each site's copy",
    positionals: [PG_ARG],
    async run(context) {
      const ref = context.args['protection-group'] ?? '';
      const pg = await resolveGroup(context);
      const state = await context.client().protectionGroupSyncState({ id: pg.id });
      if (!state) throw new CommandFailure('NOT_FOUND', `Protection Group '${ref}' not found`);
      context.print({
        kind: 'show',
        fields: [
          ['protection_group', state.name],
          ['sync_status', lower(state.syncStatus)],
          ['metadata_version', state.metadataVersion],
          ['last_synced_at', state.lastSyncedAt],
          ...state.replicas.map(
            (r) =>
              [
                `${r.site.name} (${lower(r.role)})`,
                r.replica
                  ? `version ${r.replica.metadataVersion}, ${lower(r.replica.syncStatus)}, ${lower(r.replica.status)}`
                  : r.reachable
                    ? 'no copy'
                    : `unreachable${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}`,
              ] as const,
          ),
        ],
      });
      return 0;
    },
  },
  {
    path: ['protection-group', 'sync'],
    summary: "Bring both sites' metadata of a group level",
    positionals: [PG_ARG],
    options: {
      force: { type: 'boolean', description: "Rewrite both copies from the primary's even when equal" },
      ...WAIT_OPTION,
    },
    async run(context) {
      const op = await context.client().syncProtectionGroup({
        protectionGroup: context.args['protection-group'] ?? '',
        force: context.values['force'] === true,
      });
      return followOperation(context, op);
    },
  },
  {
    path: ['member', 'add'],
    summary:
      'Add VMs to a Protection Group (their volumes must use a replication-enabled type); several at once are one change, all or nothing',
    positionals: [
      PG_ARG,
      { name: 'server', description: 'Nova server name or id on the primary site', repeated: true },
    ],
    options: {
      'boot-priority': {
        type: 'string',
        value: '<1-5>',
        description: 'Recovery order: every VM of priority 1 is up before priority 2 starts (default 3)',
      },
    },
    examples: [
      'protector member add prod-web-app web-01',
      'protector member add prod-web-app db-01 --boot-priority 1',
      'protector member add prod-web-app app-01 app-02 app-03',
    ],
    async run(context) {
      const bootPriority = integerOption(context.values, 'boot-priority', {
        min: 1,
        max: 5,
        unit: 'priority',
      });
      const common = {
        protectionGroup: context.args['protection-group'] ?? '',
        ...(bootPriority === undefined ? {} : { bootPriority }),
      };
      const [server = '', ...more] = context.repeated;
      const pg = more.length
        ? await context.client().addMembers({ ...common, servers: context.repeated })
        : await context.client().addMember({ ...common, server });
      context.print(protectionGroupView(pg));
      return 0;
    },
  },
  {
    path: ['member', 'remove'],
    summary: 'Remove a VM from a Protection Group',
    positionals: [PG_ARG, { name: 'member', description: 'Member id, or the server name or id' }],
    async run(context) {
      const pg = await context.client().removeMember({
        protectionGroup: context.args['protection-group'] ?? '',
        member: context.args['member'] ?? '',
      });
      context.print(protectionGroupView(pg));
      return 0;
    },
  },
  policyCreate,
  {
    path: ['policy', 'show'],
    aliases: [['protection-group', 'policy-show']],
    summary: "Show a group's replication policy (tokens shown only as set)",
    positionals: [PG_ARG],
    async run(context) {
      const pg = await resolveGroup(context);
      if (!pg.policy) {
        throw new CommandFailure(
          'NOT_FOUND',
          `Protection Group '${pg.name}' has no replication policy; create one with 'protector policy create ${pg.name} ...'`,
        );
      }
      context.print(policyView(pg));
      return 0;
    },
  },
  {
    path: ['recovery-point', 'list'],
    summary: 'List the replicated recovery points of a group, newest first',
    positionals: [PG_ARG],
    options: {
      site: {
        type: 'string',
        value: '<site>',
        description: "Read from this site (default: the group's secondary)",
      },
    },
    async run(context) {
      const site = stringOption(context.values, 'site');
      const points = await context.client().recoveryPoints(context.args['protection-group'] ?? '', site);
      context.print({
        kind: 'list',
        columns: ['Name', 'Created At', 'Completed At', 'Progress', 'Complete'],
        rows: points.map((p) => [
          p.name,
          p.createdAt,
          p.completedAt,
          `${Math.round(p.progress * 100)}%`,
          p.complete,
        ]),
      });
      return 0;
    },
  },
];
