/**
 * Health: RPO compliance, computed the same way by the sites (storage state, RPO events) and by the
 * gateway (group and site health), and the registry of health-issue codes that `health.issues`
 * carries. The codes are part of the API, documented in `schema/docs/health-issues.md` (generated,
 * checked for drift).
 */
import type { IssueSeverity, RpoCompliance } from '../sdl/enums.js';

/** Whether a replication lag meets an RPO; UNKNOWN when either is not known. */
export function rpoCompliance(lagSeconds: number | null, rpoMinutes: number | null): RpoCompliance {
  if (lagSeconds === null || rpoMinutes === null) return 'UNKNOWN';
  return lagSeconds <= rpoMinutes * 60 ? 'COMPLIANT' : 'VIOLATED';
}

export interface HealthIssueDefinition {
  /** The severity an issue of this code has unless its cause makes it worse or milder. */
  readonly severity: IssueSeverity;
  readonly description: string;
}

/** Every code a health issue may carry. */
export const HEALTH_ISSUE_CODES = {
  SITE_UNREACHABLE: {
    severity: 'CRITICAL',
    description:
      "A site did not answer its health check (a group's secondary site: failover is not possible; its metadata copy: WARNING, changes are refused until it is back).",
  },
  REPLICATION_LINK_DOWN: {
    severity: 'CRITICAL',
    description:
      'The replication connection between the arrays is not connected: no recovery point can arrive.',
  },
  STORAGE_UNREACHABLE: {
    severity: 'CRITICAL',
    description: "An array of the site's storage backend does not answer.",
  },
  RPO_VIOLATED: {
    severity: 'WARNING',
    description: "The newest complete recovery point is older than the group's RPO.",
  },
  NO_RECOVERY_POINT: {
    severity: 'WARNING',
    description: 'The group has no replicated recovery point yet: it cannot fail over.',
  },
  OUT_OF_SYNC: {
    severity: 'WARNING',
    description: "The two sites' copies of the group's metadata differ; run syncProtectionGroup.",
  },
  NEVER_TESTED: {
    severity: 'INFO',
    description: 'No DR drill (test failover) of the group has succeeded yet.',
  },
} as const satisfies Record<string, HealthIssueDefinition>;

export type HealthIssueCode = keyof typeof HEALTH_ISSUE_CODES;

export interface HealthIssue {
  readonly code: HealthIssueCode;
  readonly severity: IssueSeverity;
  readonly message: string;
  readonly protectionGroupId: string | null;
}

/** A health issue with its registered severity (or `severity`, where its cause says otherwise). */
export function healthIssue(
  code: HealthIssueCode,
  message: string,
  opts: { readonly protectionGroupId?: string | null; readonly severity?: IssueSeverity } = {},
): HealthIssue {
  return {
    code,
    severity: opts.severity ?? HEALTH_ISSUE_CODES[code].severity,
    message,
    protectionGroupId: opts.protectionGroupId ?? null,
  };
}

/** Renders the registry as Markdown; `docs/health-issues.md` is generated from it and checked for drift. */
export function renderHealthIssueDocs(): string {
  const rows = Object.entries(HEALTH_ISSUE_CODES).map(
    ([code, def]) => `| \`${code}\` | ${def.severity} | ${def.description} |`,
  );
  return [
    '# Health-issue codes',
    '',
    'Generated from `schema/src/rules/health.ts` by `npm run docs -w @protector/schema`; do not edit by hand.',
    'Every entry of `health.issues` (groups and sites) carries one of these in `code`.',
    '',
    '| code | severity | meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
