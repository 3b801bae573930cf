/** How SDK results are shown: the product's snake_case fields and lowercase statuses. */
import type { OperationStatus } from '@protector/schema';
import type { OperationWatchEvent } from '../../sdk/client.js';
import { isTerminalOperationStatus } from '../../sdk/client.js';
import { SECRET_MASK } from '../../sdk/redact.js';
import type { Operation, ProtectionGroup, Site } from '../../sdk/types.js';
import { lower, type ShowResult } from '../format.js';
import { type CommandContext, CommandFailure, type OptionSpec } from '../spec.js';

export const siteView = (site: Site): ShowResult => ({
  kind: 'show',
  fields: [
    ['name', site.name],
    ['key', site.key],
    ['description', site.description],
    ['url', site.url],
    ['auth_url', site.authUrl],
    ['status', lower(site.status)],
    ['role', lower(site.role)],
    ['version', site.version],
    ['storage_driver', lower(site.storageDriver)],
    ['registered_at', site.registeredAt],
  ],
});

export const protectionGroupView = (pg: ProtectionGroup): ShowResult => ({
  kind: 'show',
  fields: [
    ['id', pg.id],
    ['name', pg.name],
    ['description', pg.description],
    ['status', lower(pg.status)],
    ['sync_status', lower(pg.syncStatus)],
    ['replication_type', lower(pg.replicationType)],
    ['current_primary_site', pg.currentPrimarySite.name],
    ['secondary_site', pg.secondarySite.name],
    ['volume_type', pg.volumeType],
    ['storage_group_name', pg.storageGroupName],
    ['members', pg.members.map((m) => `${m.name} (${lower(m.status)})`)],
    ['pure_pg_name', pg.policy?.purePgName ?? null],
    ['replication_interval', pg.policy?.replicationIntervalSeconds ?? null],
    ['rpo_minutes', pg.policy?.rpoMinutes ?? null],
    ['metadata_version', pg.metadataVersion],
    ['last_replication_at', pg.lastReplicationAt],
    ['last_synced_at', pg.lastSyncedAt],
    [
      'active_operation',
      pg.activeOperation
        ? `${pg.activeOperation.id} (${lower(pg.activeOperation.type)}, ${lower(pg.activeOperation.status)})`
        : null,
    ],
    ['project_id', pg.projectId],
    ['created_at', pg.createdAt],
    ['updated_at', pg.updatedAt],
  ],
});

/** The seed's policy-create output: exactly these five fields. */
export const policyCreatedView = (pg: ProtectionGroup): ShowResult => ({
  kind: 'show',
  fields: [
    ['protection_group_id', pg.id],
    ['pure_pg_name', pg.policy?.purePgName ?? null],
    ['replication_interval', pg.policy?.replicationIntervalSeconds ?? null],
    ['rpo_minutes', pg.policy?.rpoMinutes ?? null],
    ['status', lower(pg.status)],
  ],
});

/** policy show: the policy with the tokens shown only as set / not set. */
export const policyView = (pg: ProtectionGroup): ShowResult => ({
  kind: 'show',
  fields: [
    ['protection_group_id', pg.id],
    ['protection_group', pg.name],
    ['primary_fa_url', pg.policy?.primaryArrayUrl ?? null],
    ['primary_fa_token', pg.policy?.primaryArrayTokenSet ? SECRET_MASK : null],
    ['secondary_fa_url', pg.policy?.secondaryArrayUrl ?? null],
    ['secondary_fa_token', pg.policy?.secondaryArrayTokenSet ? SECRET_MASK : null],
    ['pure_pg_name', pg.policy?.purePgName ?? null],
    ['replication_interval', pg.policy?.replicationIntervalSeconds ?? null],
    ['rpo_minutes', pg.policy?.rpoMinutes ?? null],
    ['updated_at', pg.policy?.updatedAt ?? null],
    ['status', lower(pg.status)],
  ],
});

const onSite = (site: { name: string } | null) => (site ? ` on ${site.name}` : '');

export const operationView = (op: Operation): ShowResult => ({
  kind: 'show',
  fields: [
    ['id', op.id],
    ['type', lower(op.type)],
    ['status', lower(op.status)],
    ['protection_group', op.protectionGroup.name],
    ['protection_group_id', op.protectionGroup.id],
    ['source_site', op.sourceSite?.name ?? null],
    ['target_site', op.targetSite?.name ?? null],
    ['recovery_point', op.recoveryPoint?.name ?? null],
    ['progress', `${op.percentComplete}%`],
    ['steps', `${op.stepsCompleted}/${op.stepsTotal} completed, ${op.stepsFailed} failed`],
    [
      'current_step',
      op.currentStep
        ? `${op.currentStep.name}${onSite(op.currentStep.site)} (${lower(op.currentStep.status)})`
        : null,
    ],
    [
      'step_details',
      op.steps.map(
        (s, i) =>
          `${i + 1}. ${s.name}${onSite(s.site)}: ${lower(s.status)}${s.error ? ` (${s.error.code}: ${s.error.message})` : ''}`,
      ),
    ],
    [
      'members',
      op.members.map(
        (m) =>
          `${m.memberName}: ${lower(m.status)}${m.error ? ` (${m.error.code}: ${m.error.message})` : ''}`,
      ),
    ],
    ['error', op.error ? `${op.error.code}: ${op.error.message}` : null],
    ['requested_by', op.requestedBy],
    ['created_at', op.createdAt],
    ['started_at', op.startedAt],
    ['finished_at', op.finishedAt],
  ],
});

/** One progress line of `--wait` / `operation watch`: percent, status, step. */
export function progressLine(event: OperationWatchEvent): string {
  const percent = `[${String(event.percentComplete).padStart(3)}%]`;
  const status = lower(event.status) ?? '';
  const step = event.step ? ` ${event.step.name}${onSite(event.step.site)}: ${lower(event.step.status)}` : '';
  const member = event.member ? ` member ${event.member.memberName}: ${lower(event.member.status)}` : '';
  const message = event.message ? ` - ${event.message}` : '';
  return `${percent} ${status.padEnd(12)}${step}${member}${message}`.trimEnd();
}

/** The `--wait` option of the commands that start an operation. */
export const WAIT_OPTION: Readonly<Record<string, OptionSpec>> = {
  wait: {
    type: 'boolean',
    description:
      'Stream progress (percent, status, step) until the operation ends; exit 1 unless it succeeds',
  },
};

/**
 * Shows an operation a command started; with --wait, streams its progress on stderr until it ends,
 * prints the final state and fails unless it ended in one of `expected`.
 */
export async function followOperation(
  context: CommandContext,
  started: Operation,
  expected: readonly OperationStatus[] = ['SUCCEEDED'],
): Promise<number> {
  if (context.values['wait'] !== true) {
    context.print(operationView(started));
    if (!isTerminalOperationStatus(started.status)) {
      context.note(`Follow it with: protector operation watch ${started.id}`);
    }
    return 0;
  }
  return watchUntilDone(context, started.id, expected);
}

/** Streams an operation's progress until it ends; exit code 0 when it ends in `expected`. */
export async function watchUntilDone(
  context: CommandContext,
  id: string,
  expected: readonly OperationStatus[] = ['SUCCEEDED'],
): Promise<number> {
  const client = context.client();
  for await (const event of client.watchOperation(id)) context.note(progressLine(event));
  const final = await client.operation(id);
  if (!final) throw new CommandFailure('NOT_FOUND', `Operation '${id}' no longer exists`);
  context.print(operationView(final));
  if (!expected.includes(final.status)) {
    const error = final.error;
    throw new CommandFailure(
      error?.code ?? `OPERATION_${final.status}`,
      `Operation ${final.id} (${lower(final.type)}) ended with status ${lower(final.status)}${error ? `: ${error.message}` : ''}`,
    );
  }
  return 0;
}
