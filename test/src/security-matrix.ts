/**
 * Runs one cell of the security matrix (a row of `security-table.ts` as one identity) against the lab
 * and says what came back, in the table's own terms (`Observed`): over HTTP for queries and mutations,
 * over graphql-ws for subscriptions. For a call that must not change anything, it reads what the admin
 * sees before and after (groups with their metadataVersion, status, members and policy; the operation
 * count; sites; tenant mappings). An allowed call that changes the group is settled afterwards (its
 * operation waited for, a member put back), so the next cell finds the group as the table expects.
 */
import type { Json } from '@protector/schema';
import type { Fixture } from './security-fixture.js';
import type { HttpAnswer, SubscriptionMessage } from './security-http.js';
import type { Expect, IdentityKey, Row } from './security-table.js';

export type Observed =
  | { readonly kind: 'ok' }
  | { readonly kind: 'null' }
  | { readonly kind: 'partial'; readonly code: string; readonly site: string | null }
  | { readonly kind: 'refused'; readonly code: string; readonly site: string | null }
  | { readonly kind: 'closed'; readonly code: number }
  | { readonly kind: 'completed' };

export interface CellResult {
  readonly observed: Observed;
  /** What came back, for messages. */
  readonly raw: string;
  /** Admin's view before and after the call, when the call must not change anything. */
  readonly stateBefore?: Json;
  readonly stateAfter?: Json;
  /** Identifiers of tenant A's found in what the other tenant got back (it did not send them). */
  readonly leaked: readonly string[];
}

type ErrorShape = { message?: string; extensions?: Json };

const siteOf = (e: ErrorShape | undefined): string | null => {
  const site = e?.extensions?.site;
  if (typeof site === 'string') return site;
  return /'(boston|seattle)'/.exec(e?.message ?? '')?.[1] ?? null;
};

const codeOf = (e: ErrorShape | undefined) => String(e?.extensions?.code ?? 'NONE');

/** What an HTTP answer of `field` is, in the table's terms. */
export function observeHttp(field: string, answer: HttpAnswer): Observed {
  const errors = answer.body?.errors ?? [];
  const value = (answer.body?.data as Json | null | undefined)?.[field];
  if (!errors.length) return value === null || value === undefined ? { kind: 'null' } : { kind: 'ok' };
  const first = errors[0]!;
  if (value !== null && value !== undefined)
    return { kind: 'partial', code: codeOf(first), site: siteOf(first) };
  return { kind: 'refused', code: codeOf(first), site: siteOf(first) };
}

/** What the first message of a subscription of `field` is, in the table's terms. */
export function observeMessage(field: string, m: SubscriptionMessage): Observed {
  switch (m.type) {
    case 'closed':
      return { kind: 'closed', code: m.code };
    case 'complete':
      return { kind: 'completed' };
    case 'error': {
      const first = m.payload[0] as ErrorShape | undefined;
      return { kind: 'refused', code: codeOf(first), site: siteOf(first) };
    }
    case 'next': {
      const value = (m.payload.data as Json | null | undefined)?.[field];
      const first = m.payload.errors?.[0] as ErrorShape | undefined;
      if (!first) return value === null || value === undefined ? { kind: 'null' } : { kind: 'ok' };
      if (value !== null && value !== undefined)
        return { kind: 'partial', code: codeOf(first), site: siteOf(first) };
      return { kind: 'refused', code: codeOf(first), site: siteOf(first) };
    }
  }
}

/** Whether what came back is what the table expects. */
export function matches(expect: Expect, seen: Observed): boolean {
  switch (expect.kind) {
    case 'ok':
    case 'null':
      return seen.kind === expect.kind;
    case 'partial':
      return seen.kind === 'partial' && seen.code === expect.code && seen.site === expect.site;
    case 'refused':
      return (
        seen.kind === 'refused' && seen.code === expect.code && (!expect.site || seen.site === expect.site)
      );
    case 'state':
      return seen.kind === 'refused' && seen.code === expect.code;
    case 'closed':
      return seen.kind === 'closed' && seen.code === expect.code;
    case 'oneOf':
      return expect.options.some((option) => matches(option, seen));
  }
}

/** An outcome in words, for test titles, failure messages and the doc. */
export function describeOutcome(o: Expect | Observed): string {
  switch (o.kind) {
    case 'ok':
      return 'allowed';
    case 'null':
      return 'null (not visible)';
    case 'partial':
      return `partial: data + ${o.code}${o.site ? ` naming ${o.site}` : ''}`;
    case 'refused':
      return `${o.code}${o.site ? ` naming ${o.site}` : ''}`;
    case 'state':
      return `allowed, then ${o.code} (state)`;
    case 'closed':
      return `connection closed ${o.code}`;
    case 'completed':
      return 'completed without an event';
    case 'oneOf':
      return o.options.map(describeOutcome).join(' or ');
  }
}

/** Tenant A's identifiers that tenant B must never get back unless it sent them itself. */
function leakedIdentifiers(fx: Fixture, sent: Json, text: string): string[] {
  const t = fx.targets;
  const secrets = [
    t.group.id,
    t.reverseGroup.id,
    t.demoGroup.id,
    t.operationId,
    t.group.name,
    t.reverseGroup.name,
    t.demoGroup.name,
    ...Object.values(t.projects.tenant),
  ];
  const asked = JSON.stringify(sent);
  return secrets.filter((s) => !asked.includes(s) && text.includes(s));
}

/** Mutations of a row that change nothing when refused: the admin's view before and after must be equal. */
const mustNotChange = (row: Row, expect: Expect) => row.root === 'Mutation' && expect.kind !== 'ok';

export class MatrixRunner {
  /** The admin's view after the last refused call (a refused call leaves it as it was). */
  private known: Json | null = null;

  constructor(private readonly fx: Fixture) {}

  async run(row: Row, who: IdentityKey): Promise<CellResult> {
    const expect = row.expect[who];
    const variables = row.variables(this.fx.targets);
    if (row.root === 'Subscription') return this.subscription(row, who, variables);
    const before = mustNotChange(row, expect) ? (this.known ?? (await this.fx.state())) : undefined;
    const answer = await this.fx.request(who, row.document, variables);
    const observed = observeHttp(row.field, answer);
    const leaked = who === 'otherTenant' ? leakedIdentifiers(this.fx, variables, answer.text) : [];
    if (before !== undefined) {
      const after = await this.fx.state();
      this.known = after;
      return { observed, raw: answer.text, stateBefore: before, stateAfter: after, leaked };
    }
    if (row.root === 'Mutation') {
      this.known = null;
      if (observed.kind === 'ok') await this.settle(row, answer);
    }
    return { observed, raw: answer.text, leaked };
  }

  private async settle(row: Row, answer: HttpAnswer): Promise<void> {
    const fx = this.fx;
    const t = fx.targets;
    const change = 'mutation($pg: ID!, $vm: ID!)';
    switch (row.settle) {
      case 'operation': {
        const op = await fx.waitOperation(String(((answer.body?.data as Json)[row.field] as Json).id));
        // The next cells expect the group where this operation leaves it.
        if (op.status !== 'SUCCEEDED') throw new Error(`${row.field} did not succeed: ${JSON.stringify(op)}`);
        return;
      }
      case 'removeCandidate':
        await fx.ok(
          'admin',
          `${change} { removeMember(input: { protectionGroup: $pg, member: $vm }) { id } }`,
          {
            pg: t.group.id,
            vm: t.candidateVm,
          },
        );
        return;
      case 'readdMember':
        await fx.ok('admin', `${change} { addMember(input: { protectionGroup: $pg, server: $vm }) { id } }`, {
          pg: t.group.id,
          vm: t.memberVm,
        });
        return;
      case undefined:
        return;
    }
  }

  private async subscription(row: Row, who: IdentityKey, variables: Json): Promise<CellResult> {
    this.known = null; // an allowed subscriber's trigger starts operations
    const open = await this.fx.ws(who);
    if (!open.ok) return { observed: { kind: 'closed', code: open.code }, raw: open.reason, leaked: [] };
    const sub = open.connection.subscribe(row.document, variables);
    try {
      const expectsEvent = row.expect[who].kind === 'ok';
      let first: SubscriptionMessage;
      if (expectsEvent && row.trigger === 'syncGroup') first = await this.triggered(sub.next(60_000));
      // A refusal comes at once; an event of a site comes with the group's next replication (every 2 s).
      else first = await sub.next(row.trigger === 'replication' ? 30_000 : 15_000);
      const raw = JSON.stringify(first);
      const leaked = who === 'otherTenant' ? leakedIdentifiers(this.fx, variables, raw) : [];
      return { observed: observeMessage(row.field, first), raw, leaked };
    } finally {
      await open.connection.close();
    }
  }

  /**
   * Runs a SYNC of tenant A's group as the admin until the subscriber got its first message (a SYNC
   * whose events all passed before the subscription was in place is followed by another, at most 3).
   */
  private async triggered(first: Promise<SubscriptionMessage>): Promise<SubscriptionMessage> {
    let got: SubscriptionMessage | null = null;
    void first.then(
      (m) => {
        got = m;
      },
      () => {},
    );
    for (let attempt = 0; attempt < 3 && !got; attempt++) {
      const { syncProtectionGroup } = await this.fx.ok<{ syncProtectionGroup: { id: string } }>(
        'admin',
        'mutation($pg: ID!) { syncProtectionGroup(input: { protectionGroup: $pg, force: true }) { id } }',
        { pg: this.fx.targets.group.id },
      );
      await this.fx.waitOperation(syncProtectionGroup.id);
    }
    return first;
  }
}
