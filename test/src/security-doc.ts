/**
 * Renders docs/security.md from the security suite's data: the identities and the matrix
 * (`security-table.ts`), and the product bugs the suite keeps as failing expectations (the table's
 * `productBugs` and the findings' lists). `security.test.ts` compares the file with this rendering.
 */
import { ECHO_CASES } from './security-findings-limits.js';
import { TENANT_B_SETUP } from './security-findings-tenants.js';
import { type Expect, IDENTITIES, type Row, TABLE } from './security-table.js';

const HEADER = `# Security: threat model and who may do what

Generated from the security suite's table (\`test/src/security-table.ts\`, rendered by
\`test/src/security-doc.ts\`); do not edit by hand. The suite (\`test/src/security.test.ts\`) runs every
cell below against a real lab and fails when this file differs from what the table renders.
Regenerate it with \`npx vitest run src/security -u\` in \`test/\`.
`;

const THREAT_MODEL = `## Threat model

**What is protected.** Each tenant's Protection Groups (their metadata on both sites, members, policy
with array tokens, resource mappings), the operations run on them and their events, the tenant's VMs
and volumes, and the arrays' groups, snapshots and recovery points that hold the tenant's data; the
site registry and the service credentials the gateway stores for each site; the tenant mappings.

**Who may call.** Anyone who reaches the gateway (\`/graphql\` over HTTP and graphql-ws) or a site
service. Identity is a Keystone token per site, validated by that site's Keystone: the gateway never
decides who someone is, it forwards each site only the token meant for it and asks the sites'
Keystones. The gateway's own service identity serves only its own work (health checks, re-sync after
an outage, the steps of a change or an operation an authorized caller started).

**Trust boundaries.** Client to gateway; gateway to each site service; gateway and sites to each
site's Keystone; sites to their arrays. A site never talks to the other site. A Keystone is trusted
only once registered, and registering or moving a site needs the admin role at the Keystone
registered now.

**What the suite defends against.** A caller without a token, or with a token no Keystone issued; a
tenant reading or acting on another tenant's groups, operations, events or array objects (directly,
through look-alike names, or through an array group name); a tenant with one site's token acting on
both sites; taking a site over by re-registering it at a Keystone the attacker runs (which would
receive the stored service password and callers' tokens); learning the schema or internal endpoints
without a token; denial of service by huge documents (aliases, depth, tokens, cost) and bodies;
errors echoing secrets sent in the wrong place; metrics grown without bound by client-chosen labels;
database files readable by other users of the host.

**Out of scope here.** TLS termination and certificates, the arrays' own access control, Keystone's
own policies, host hardening beyond file modes (see \`deploy/systemd/\`), rate limits (unit-tested in
\`schema/platform\`).
`;

const IDENTITIES_TEXT = `## Identities

Tenant A owns everything the matrix acts on: \`sec-matrix\` (boston to seattle, one member VM, a policy
replicating every 2 s, network and flavor mappings), \`sec-reverse\` (seattle to boston) and
\`prod-web-app\`, a second VM that is not a member, and their operations. Tenant B is a member of
another project, mapped to itself on both sites like A, with groups of its own.

| identity | sends |
|---|---|
${IDENTITIES.map((i) => `| ${i.title} | ${i.sends} |`).join('\n')}
`;

const LEGEND = `## The matrix

One row per root field of the supergraph (the suite checks the table against the live schema), one
column per identity. Refused calls are proved to change nothing: the admin's view of every group
(status, metadataVersion, members, policy), the operation count, the sites and the tenant mappings
are the same before and after. Tenant B's answers are also checked to hold no identifier of tenant
A's it did not send itself.

- **allowed**: data, no error. **allowed → CODE**: the caller passed every access check and the call
  was refused for the object's state only (e.g. a failover of a group in a drill), which proves
  access without changing anything.
- **CODE**: refused with that code; **CODE (site)**: the error names that site.
- **partial (CODE, site)**: the data the caller's tokens can read, plus an error naming the site it
  sent no token for.
- **null**: the field is null with no error, as for an object that does not exist.
- **closed 4403**: the graphql-ws connection is closed at \`connection_init\`.
- **‡n**: the product answers otherwise today: product bug n below (the cell keeps the secure
  expectation as a failing test until the product is fixed).
`;

function cell(e: Expect): string {
  switch (e.kind) {
    case 'ok':
      return 'allowed';
    case 'null':
      return 'null';
    case 'partial':
      return `partial (${e.code}, ${e.site})`;
    case 'refused':
      return e.site ? `${e.code} (${e.site})` : e.code;
    case 'state':
      return `allowed → ${e.code}`;
    case 'closed':
      return `closed ${e.code}`;
    case 'oneOf':
      return e.options.map(cell).join(' or ');
  }
}

const escapePipes = (text: string) => text.replaceAll('|', '\\|');

function matrix(root: Row['root'], bugs: string[]): string {
  const rows = TABLE.filter((r) => r.root === root);
  const head = `| ${root} | ${IDENTITIES.map((i) => i.title).join(' | ')} | notes |`;
  const rule = `|${'---|'.repeat(IDENTITIES.length + 2)}`;
  const body = rows.map((r) => {
    const cells = IDENTITIES.map((i) => {
      const bug = r.productBugs?.[i.key];
      if (!bug) return cell(r.expect[i.key]);
      bugs.push(
        `\`${r.root}.${r.field}\` as ${i.title}: expected ${cell(r.expect[i.key])}; the product answers ${bug}.`,
      );
      return `${cell(r.expect[i.key])} ‡${bugs.length}`;
    });
    return `| \`${r.field}\` | ${cells.join(' | ')} | ${escapePipes(r.note ?? '')} |`;
  });
  return [`### ${root}`, '', head, rule, ...body, ''].join('\n');
}

const FINDINGS = `## Findings of the security review, each proved closed

Each has its tests in the suite (\`test/src/security-findings-*.ts\`), on the same lab over HTTP and
graphql-ws.

1. **No token means no access.** \`failback\`, \`syncProtectionGroup\`, \`testCleanup\`,
   \`createReplicationPolicy\` with no headers: UNAUTHENTICATED and nothing changes;
   \`protectionGroups\` without a token is UNAUTHENTICATED, not a list; tenant B with only
   \`X-Site-Token-boston\` neither sees (by id, by name, in lists, recovery points, operations) nor
   changes (every change and operation, by id and by name) tenant A's group.
2. **Site takeover.** Re-registering \`boston\` at a fake Keystone (started on port 0, accepting every
   token and recording every request) is refused for every identity, the registry is unchanged, and
   the fake Keystone receives nothing: no stored service password, no token.
3. **Tenants on the array.** Tenant B's \`a\` and tenant A's \`a..\` get different array groups;
   deleting B's leaves A's recovery points and A's group keeps replicating; both tenants may own
   \`prod-web-app\`, one project may not own two, and B cannot take A's array group name for its policy.
4. **Events.** \`connection_init\` with a token for an unknown site key or a refused token is closed
   4403; \`operationEvents\` without a filter, subscribed by tenant B, delivers nothing of tenant A's
   operation while A's own subscriber gets it (proved by B's own operation arriving after A's).
5. **Open information.** \`validateSite\`, \`tenantMappings\`, \`sites\` need a token; introspection
   needs a valid token at the gateway (the suite's lab runs the default \`introspection =
   authenticated\`) and at a site, and no error suggests field names; a site's \`/metrics\` has no
   label value a client chose.
6. **Limits.** 10,000 aliases and a 1,000-level nested query: HTTP 400 QUERY_TOO_COMPLEX within 2 s,
   and the gateway answers a normal query right after; \`operations(first: 1)\` answers.
7. **Smaller.** A token sent where another type belongs is not echoed (HTTP and graphql-ws); an
   oversized body gets 413 PAYLOAD_TOO_LARGE (gateway and site); interval and RPO of 2^31-1 and the
   drill network \`999.999.999.999/99\` are refused with BAD_USER_INPUT and change nothing; the
   gateway's and sites' databases and keys are not world-readable.
`;

export function renderSecurityDoc(): string {
  const bugs: string[] = [];
  const tables = (['Query', 'Mutation', 'Subscription'] as const).map((root) => matrix(root, bugs));
  const fromFindings = [
    ...ECHO_CASES.filter((c) => c.productBug).map(
      (c) =>
        `Finding 7: a token sent as ${c.what} (${c.via === 'ws' ? 'graphql-ws' : 'HTTP'}) is echoed: ${c.productBug}.`,
    ),
  ];
  const cells = TABLE.length * IDENTITIES.length;
  return [
    HEADER,
    THREAT_MODEL,
    IDENTITIES_TEXT,
    LEGEND,
    `${TABLE.length} root fields x ${IDENTITIES.length} identities = ${cells} cells.`,
    '',
    ...tables,
    FINDINGS,
    '## Open product bugs',
    '',
    ...(bugs.length + fromFindings.length
      ? [
          'The suite keeps the secure expectation of each as a failing test (`it.fails`) until the product is fixed.',
          '',
          ...bugs.map((b, i) => `${i + 1}. ${b}`),
          ...fromFindings.map((b, i) => `${bugs.length + i + 1}. ${b}`),
        ]
      : ['None: every cell of the matrix and every finding holds.']),
    '',
    '## The lab',
    '',
    `Tenant B is made before the suite starts; ${TENANT_B_SETUP}.`,
    '',
  ].join('\n');
}
