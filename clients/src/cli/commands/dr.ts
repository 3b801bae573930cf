/** The DR operations (`failover`, `failback`, `test-failover`, `test-cleanup`) and `operation ...`. */
import { type OperationStatus, testNetworkCidrProblem } from '@protector/schema';
import { lower } from '../format.js';
import {
  CommandFailure,
  type CommandSpec,
  choiceOption,
  integerOption,
  stringOption,
  UsageError,
} from '../spec.js';
import { PG_ARG } from './protection-group.js';
import { followOperation, operationView, WAIT_OPTION, watchUntilDone } from './views.js';

const OPERATION_ARG = { name: 'operation', description: 'Operation id' } as const;

const pgOf = (args: Readonly<Record<string, string | undefined>>) => args['protection-group'] ?? '';

/** Statuses that count as success when the operation was cancelled on request. */
const CANCELLED_OK: readonly OperationStatus[] = ['CANCELLED', 'ROLLED_BACK', 'SUCCEEDED'];

export const drCommands: readonly CommandSpec[] = [
  {
    path: ['failover'],
    summary: 'Fail a Protection Group over to its secondary site',
    positionals: [PG_ARG],
    options: {
      type: {
        type: 'string',
        value: 'planned|unplanned',
        description: 'planned: both sites up, no data loss (default); unplanned: primary lost',
      },
      'recovery-point': {
        type: 'string',
        value: '<name>',
        description:
          'Point-in-time failover from this recovery point (unplanned only); see recovery-point list',
      },
      ...WAIT_OPTION,
    },
    examples: [
      'protector failover prod-web-app --wait',
      'protector failover prod-web-app --type unplanned --recovery-point array-b:pg-prod-web-app.4711',
    ],
    async run(context) {
      const type = choiceOption(context.values, 'type', ['planned', 'unplanned'] as const) ?? 'planned';
      const recoveryPoint = stringOption(context.values, 'recovery-point');
      if (recoveryPoint !== undefined && type === 'planned') {
        throw new UsageError(
          'Option --recovery-point needs --type unplanned (a planned failover always replicates the latest data first)',
        );
      }
      const op = await context.client().failover({
        protectionGroup: pgOf(context.args),
        type: type === 'planned' ? 'PLANNED' : 'UNPLANNED',
        ...(recoveryPoint === undefined ? {} : { recoveryPoint }),
      });
      return followOperation(context, op);
    },
  },
  {
    path: ['failback'],
    summary: 'Reprotect (reverse replication) and recover a failed-over group on its original site',
    positionals: [PG_ARG],
    options: {
      'force-sync': {
        type: 'boolean',
        description: 'Sync the metadata first when the sites are out of sync',
      },
      ...WAIT_OPTION,
    },
    async run(context) {
      const op = await context.client().failback({
        protectionGroup: pgOf(context.args),
        forceSync: context.values['force-sync'] === true,
      });
      return followOperation(context, op);
    },
  },
  {
    path: ['test-failover'],
    summary:
      'DR drill: recover copies on an isolated network of the secondary site; the primary is untouched',
    positionals: [PG_ARG],
    options: {
      'recovery-point': { type: 'string', value: '<name>', description: 'Default: the newest complete one' },
      'test-network-cidr': {
        type: 'string',
        value: '<cidr>',
        description: 'CIDR of the isolated test network',
      },
      ...WAIT_OPTION,
    },
    async run(context) {
      const recoveryPoint = stringOption(context.values, 'recovery-point');
      const cidr = stringOption(context.values, 'test-network-cidr');
      const cidrProblem = cidr === undefined ? null : testNetworkCidrProblem(cidr);
      if (cidrProblem) throw new UsageError(`Option --test-network-cidr: ${cidrProblem}`);
      const op = await context.client().testFailover({
        protectionGroup: pgOf(context.args),
        ...(recoveryPoint === undefined ? {} : { recoveryPoint }),
        ...(cidr === undefined ? {} : { testNetworkCidr: cidr }),
      });
      return followOperation(context, op);
    },
  },
  {
    path: ['test-cleanup'],
    summary: 'Delete every resource the test failover of a group created',
    positionals: [PG_ARG],
    options: {
      force: { type: 'boolean', description: 'Clean up even if the group is not in test_failed_over' },
      ...WAIT_OPTION,
    },
    async run(context) {
      const op = await context.client().testCleanup({
        protectionGroup: pgOf(context.args),
        force: context.values['force'] === true,
      });
      return followOperation(context, op);
    },
  },
  {
    path: ['operation', 'list'],
    summary: 'List operations, newest first',
    options: {
      'protection-group': {
        type: 'string',
        value: '<pg>',
        description: 'Only operations of this group (name or id)',
      },
      limit: { type: 'string', value: '<n>', description: 'At most this many (default 50)' },
    },
    async run(context) {
      const pg = stringOption(context.values, 'protection-group');
      const first = integerOption(context.values, 'limit', { min: 1, max: 500, unit: 'operations' });
      const page = await context.client().operations({
        filter: pg === undefined ? {} : { protectionGroup: pg },
        ...(first === undefined ? {} : { first }),
      });
      context.print({
        kind: 'list',
        columns: ['ID', 'Type', 'Status', 'Protection Group', 'Progress', 'Created At', 'Finished At'],
        rows: page.nodes.map((op) => [
          op.id,
          lower(op.type),
          lower(op.status),
          op.protectionGroup.name,
          `${op.percentComplete}%`,
          op.createdAt,
          op.finishedAt,
        ]),
      });
      return 0;
    },
  },
  {
    path: ['operation', 'show'],
    summary: 'Show an operation with its steps and per-member results',
    positionals: [OPERATION_ARG],
    async run(context) {
      const id = context.args['operation'] ?? '';
      const op = await context.client().operation(id);
      if (!op)
        throw new CommandFailure('NOT_FOUND', `Operation '${id}' not found; see 'protector operation list'`);
      context.print(operationView(op));
      return 0;
    },
  },
  {
    path: ['operation', 'watch'],
    summary: 'Stream the progress of an operation until it ends; exit 1 unless it succeeds',
    positionals: [OPERATION_ARG],
    async run(context) {
      return watchUntilDone(context, context.args['operation'] ?? '');
    },
  },
  {
    path: ['operation', 'cancel'],
    summary: 'Stop a running operation after its current step',
    positionals: [OPERATION_ARG],
    options: { rollback: { type: 'boolean', description: 'Undo the steps already done' }, ...WAIT_OPTION },
    async run(context) {
      const op = await context.client().cancelOperation({
        operation: context.args['operation'] ?? '',
        rollback: context.values['rollback'] === true,
      });
      return followOperation(context, op, CANCELLED_OK);
    },
  },
  {
    path: ['operation', 'resume'],
    summary: 'Resume a failed or interrupted operation from its first unfinished step',
    positionals: [OPERATION_ARG],
    options: { ...WAIT_OPTION },
    async run(context) {
      const op = await context.client().resumeOperation({ operation: context.args['operation'] ?? '' });
      return followOperation(context, op);
    },
  },
];
