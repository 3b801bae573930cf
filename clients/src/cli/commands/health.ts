/** `protector health show`: reachability, replication link, lag, RPO and failover readiness per site. */
import { lower } from '../format.js';
import { CommandFailure, type CommandSpec } from '../spec.js';

export const healthCommands: readonly CommandSpec[] = [
  {
    path: ['health', 'show'],
    summary: 'Show the health of the sites (or of one site), with their issues',
    positionals: [{ name: 'site', description: 'Only this site', optional: true }],
    async run(context) {
      const { data, errors } = await context.client().sitesHealth();
      const name = context.args['site'];
      // A site whose health could not be read is reported, and the others are still shown.
      for (const error of errors)
        context.note(`Warning (${error.code ?? 'UNKNOWN_ERROR'}): ${error.message}`);
      if (!data)
        throw new CommandFailure(errors[0]?.code ?? 'UNKNOWN_ERROR', errors[0]?.message ?? 'No health data');
      const sites = data.sites.filter((s) => name === undefined || s.name === name || s.key === name);
      if (name !== undefined && sites.length === 0) {
        throw new CommandFailure('NOT_FOUND', `Site '${name}' is not registered; see 'protector site list'`);
      }
      const [single] = sites;
      if (name !== undefined && single) {
        const h = single.health;
        context.print({
          kind: 'show',
          fields: [
            ['site', single.name],
            ['status', lower(single.status)],
            ['reachable', h?.reachable ?? null],
            ['checked_at', h?.checkedAt ?? null],
            ['latency_ms', h?.latencyMs ?? null],
            ['storage_reachable', h?.storageReachable ?? null],
            ['replication_link', lower(h?.replicationLinkState)],
            ['max_replication_lag_seconds', h?.maxReplicationLagSeconds ?? null],
            ['rpo_compliance', lower(h?.rpoCompliance)],
            ['failover_readiness', lower(h?.failoverReadiness)],
            ['issues', (h?.issues ?? []).map((i) => `${lower(i.severity)} ${i.code}: ${i.message}`)],
          ],
        });
      } else {
        context.print({
          kind: 'list',
          columns: [
            'Site',
            'Status',
            'Reachable',
            'Replication Link',
            'Max Lag (s)',
            'RPO',
            'Failover Readiness',
            'Issues',
          ],
          rows: sites.map((s) => [
            s.name,
            lower(s.status),
            s.health?.reachable ?? null,
            lower(s.health?.replicationLinkState),
            s.health?.maxReplicationLagSeconds ?? null,
            lower(s.health?.rpoCompliance),
            lower(s.health?.failoverReadiness),
            (s.health?.issues ?? []).map((i) => `${lower(i.severity)} ${i.code}`),
          ]),
        });
      }
      return errors.length > 0 ? 1 : 0;
    },
  },
];
