/**
 * The security matrix as data: every root field of the supergraph (queries, mutations, subscriptions)
 * with the document the suite sends, how its variables are built from tenant A's objects, and what
 * each identity must get. `security.test.ts` runs every cell against the lab in table order (rows
 * whose allowed cells change the group come in an order that keeps every cell deterministic) and
 * `security-doc.ts` renders docs/security.md from it.
 */
import type { Json } from '@protector/schema';
import type { Targets } from './security-fixture.js';

/** Who calls, from nobody to the admin: the matrix's columns. */
export type IdentityKey = 'anonymous' | 'garbage' | 'otherTenant' | 'oneSite' | 'tenant' | 'admin';

export interface Identity {
  readonly key: IdentityKey;
  readonly title: string;
  /** What it sends. */
  readonly sends: string;
}

export const IDENTITIES: readonly Identity[] = [
  { key: 'anonymous', title: 'anonymous', sends: 'no token (no header; `connection_init` without tokens)' },
  {
    key: 'garbage',
    title: 'garbage token',
    sends: '`X-Site-Token-boston` and `X-Site-Token-seattle` set to a string no Keystone issued',
  },
  {
    key: 'otherTenant',
    title: 'other tenant',
    sends: "tenant B's tokens for both sites (member of project `tenant-b`, mapped to itself)",
  },
  {
    key: 'oneSite',
    title: "tenant, one site's token",
    sends: "tenant A's token for boston only (`X-Site-Token-boston`)",
  },
  { key: 'tenant', title: 'tenant', sends: "tenant A's tokens for both sites (member of project `demo`)" },
  { key: 'admin', title: 'admin', sends: 'tokens of `admin` (role admin) for both sites' },
];

export const IDENTITY_KEYS: readonly IdentityKey[] = IDENTITIES.map((i) => i.key);

/**
 * What one identity gets for one field:
 * - `ok`: data and no error; `null`: the field is null with no error (nothing visible to this caller);
 * - `partial`: data plus an error with `code` naming `site` (a read that needs both sites' tokens);
 * - `refused`: an error with `code` (naming `site` when given) and no data of the field;
 * - `state`: allowed: the caller passes every access check and the call is refused only for the
 *   object's state (`code`, e.g. INVALID_STATE), which proves access without changing anything;
 * - `closed`: the graphql-ws connection is closed at `connection_init` with 4403;
 * - `oneOf`: any of `options` (where the product's answer depends on something the caller does not
 *   choose, such as which site was registered first).
 */
export type Expect =
  | { readonly kind: 'ok' }
  | { readonly kind: 'null' }
  | { readonly kind: 'partial'; readonly code: string; readonly site: string }
  | { readonly kind: 'refused'; readonly code: string; readonly site?: string }
  | { readonly kind: 'state'; readonly code: string }
  | { readonly kind: 'closed'; readonly code: number }
  | { readonly kind: 'oneOf'; readonly options: readonly Expect[] };

const ok: Expect = { kind: 'ok' };
const none: Expect = { kind: 'null' };
const closed: Expect = { kind: 'closed', code: 4403 };
const refused = (code: string, site?: string): Expect =>
  site ? { kind: 'refused', code, site } : { kind: 'refused', code };
const partial = (code: string, site: string): Expect => ({ kind: 'partial', code, site });
const state = (code: string): Expect => ({ kind: 'state', code });
const U = refused('UNAUTHENTICATED');
const F = refused('FORBIDDEN');
const NF = refused('NOT_FOUND');
const U_SEATTLE = refused('UNAUTHENTICATED', 'seattle');

/** After an allowed cell: what restores the group before the next cell, by name (the runner does it). */
export type Settle = 'operation' | 'removeCandidate' | 'readdMember';
/** What makes a subscription deliver an event once subscribed (the runner does it). */
export type Trigger = 'syncGroup' | 'replication' | 'none';

export interface Row {
  readonly root: 'Query' | 'Mutation' | 'Subscription';
  readonly field: string;
  readonly document: string;
  readonly variables: (t: Targets) => Json;
  readonly expect: Readonly<Record<IdentityKey, Expect>>;
  /** After an allowed (`ok`) cell of a mutation. */
  readonly settle?: Settle;
  /** Subscriptions: what makes an allowed subscriber's first event come. */
  readonly trigger?: Trigger;
  /**
   * Cells where the product answers otherwise today: what it returns. The cell still expects the
   * secure answer (`it.fails` until the product is fixed); the doc lists them as open findings.
   */
  readonly productBugs?: Partial<Readonly<Record<IdentityKey, string>>>;
  /** One line for the doc, when the row needs one. */
  readonly note?: string;
}

/** Every identity's expectation: those given, the rest `default`. */
const all = (
  e: Partial<Record<IdentityKey, Expect>> & { readonly default?: Expect },
): Readonly<Record<IdentityKey, Expect>> =>
  Object.fromEntries(
    IDENTITY_KEYS.map((k) => {
      const expected = e[k] ?? e.default;
      if (!expected) throw new Error(`no expectation for ${k}`);
      return [k, expected];
    }),
  ) as Record<IdentityKey, Expect>;

const group = (t: Targets) => ({ pg: t.group.id });

const registeredSite = (t: Targets) => ({
  i: {
    name: 'boston',
    key: 'boston',
    description: 'Lab site boston',
    url: t.sites.boston!.url,
    authUrl: t.sites.boston!.authUrl,
    serviceCredentials: { username: 'protector', password: 'protector', projectName: 'service' },
  },
});

const QUERIES: readonly Row[] = [
  {
    root: 'Query',
    field: 'sites',
    document: '{ sites { name url authUrl status } }',
    variables: () => ({}),
    expect: all({ anonymous: U, garbage: U, default: ok }),
  },
  {
    root: 'Query',
    field: 'site',
    document: 'query($n: String!) { site(name: $n) { name url authUrl } }',
    variables: () => ({ n: 'boston' }),
    expect: all({ anonymous: U, garbage: U, default: ok }),
  },
  {
    root: 'Query',
    field: 'protectionGroups',
    document:
      '{ protectionGroups(first: 50) { totalCount nodes { id name projectId boston { metadataVersion } seattle { metadataVersion } } } }',
    variables: () => ({}),
    expect: all({ anonymous: U, garbage: U, oneSite: partial('UNAUTHENTICATED', 'seattle'), default: ok }),
    note: "tenant B's list holds none of tenant A's groups",
  },
  {
    root: 'Query',
    field: 'protectionGroup',
    document:
      'query($pg: ID!) { protectionGroup(id: $pg) { id name status metadataVersion boston { status } seattle { status } } }',
    variables: group,
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: none,
      oneSite: partial('UNAUTHENTICATED', 'seattle'),
      default: ok,
    }),
    note: "another tenant's group reads as null, as a group that does not exist",
  },
  {
    root: 'Query',
    field: 'operations',
    document:
      'query($pg: ID) { operations(filter: { protectionGroup: $pg }, first: 5) { totalCount nodes { id type status requestedBy } } }',
    variables: group,
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, default: ok }),
  },
  {
    root: 'Query',
    field: 'operation',
    document:
      'query($id: ID!) { operation(id: $id) { id type status requestedBy protectionGroup { name } } }',
    variables: (t) => ({ id: t.operationId }),
    expect: all({ anonymous: U, garbage: U, otherTenant: none, default: ok }),
  },
  {
    root: 'Query',
    field: 'recoveryPoints',
    document: 'query($pg: ID!) { recoveryPoints(protectionGroup: $pg) { name complete } }',
    variables: group,
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
    note: 'read from the secondary site (seattle), with the caller token for that site',
  },
  {
    root: 'Query',
    field: 'tenantMappings',
    document:
      '{ tenantMappings { sourceSite { name } sourceProjectId targetSite { name } targetProjectId } }',
    variables: () => ({}),
    expect: all({
      anonymous: U,
      garbage: U,
      oneSite: { kind: 'oneOf', options: [F, U_SEATTLE] },
      admin: ok,
      default: F,
    }),
    note: 'read at the site registered first: with only a boston token, FORBIDDEN there or UNAUTHENTICATED for seattle',
  },
  {
    root: 'Query',
    field: 'boston',
    document:
      '{ boston { name volumeTypes { name } servers { id name projectId } protectionGroupReplicas { totalCount nodes { id name projectId } } } }',
    variables: () => ({}),
    expect: all({
      anonymous: refused('UNAUTHENTICATED', 'boston'),
      garbage: refused('UNAUTHENTICATED', 'boston'),
      default: ok,
    }),
    note: "a tenant sees its own project's servers and groups only",
  },
  {
    root: 'Query',
    field: 'seattle',
    document:
      '{ seattle { name volumeTypes { name } servers { id name projectId } protectionGroupReplicas { totalCount nodes { id name projectId } } } }',
    variables: () => ({}),
    expect: all({
      anonymous: refused('UNAUTHENTICATED', 'seattle'),
      garbage: refused('UNAUTHENTICATED', 'seattle'),
      oneSite: U_SEATTLE,
      default: ok,
    }),
  },
];

/** Mutations in the order they run: the drill rows leave the group as they found it, the others do not touch it. */
const MUTATIONS: readonly Row[] = [
  {
    root: 'Mutation',
    field: 'registerSite',
    document: 'mutation($i: RegisterSiteInput!) { registerSite(input: $i) { name url authUrl } }',
    variables: registeredSite,
    expect: all({ anonymous: U, garbage: U, admin: ok, default: F }),
    note: 'boston again with its own URLs (the admin re-registers it unchanged)',
  },
  {
    root: 'Mutation',
    field: 'validateSite',
    document: 'mutation($n: String!) { validateSite(name: $n) { valid checks { name status } } }',
    variables: () => ({ n: 'boston' }),
    expect: all({ anonymous: U, garbage: U, admin: ok, default: F }),
  },
  {
    root: 'Mutation',
    field: 'unregisterSite',
    document: 'mutation($n: String!) { unregisterSite(name: $n) { name } }',
    variables: () => ({ n: 'boston' }),
    expect: all({ anonymous: U, garbage: U, admin: state('INVALID_STATE'), default: F }),
    note: 'boston holds groups: the admin is refused for that, not for who it is',
  },
  {
    root: 'Mutation',
    field: 'setTenantMappings',
    document:
      'mutation($m: [TenantMappingInput!]!) { setTenantMappings(input: { mappings: $m }) { sourceProjectId targetProjectId } }',
    variables: (t) => ({ m: t.tenantMappings as Json[] }),
    expect: all({ anonymous: U, garbage: U, admin: ok, default: F }),
    note: 'the mappings as they are (the admin sets them unchanged)',
  },
  {
    root: 'Mutation',
    field: 'createProtectionGroup',
    document:
      'mutation($i: CreateProtectionGroupInput!) { createProtectionGroup(input: $i) { id name projectId } }',
    variables: (t) => ({
      i: {
        name: t.group.name,
        replicationType: 'ASYNC',
        primarySite: 'boston',
        secondarySite: 'seattle',
        volumeType: 'replicated-ssd',
        projectId: t.projects.tenant.boston,
      },
    }),
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: F,
      oneSite: U_SEATTLE,
      default: state('ALREADY_EXISTS'),
    }),
    note: "in tenant A's project, under the name of A's group: A and the admin get ALREADY_EXISTS",
  },
  {
    root: 'Mutation',
    field: 'createReplicationPolicy',
    document:
      'mutation($pg: ID!) { createReplicationPolicy(input: { protectionGroup: $pg, policy: { rpoMinutes: 5 } }) { id metadataVersion } }',
    variables: group,
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
  },
  {
    root: 'Mutation',
    field: 'setResourceMappings',
    document:
      'mutation($pg: ID!, $m: [ResourceMappingInput!]!) { setResourceMappings(input: { protectionGroup: $pg, mappings: $m }) { id metadataVersion } }',
    variables: (t) => ({ pg: t.group.id, m: t.resourceMappings as Json[] }),
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
  },
  {
    root: 'Mutation',
    field: 'syncProtectionGroup',
    document:
      'mutation($pg: ID!) { syncProtectionGroup(input: { protectionGroup: $pg, force: true }) { id status } }',
    variables: group,
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
    settle: 'operation',
  },
  {
    root: 'Mutation',
    field: 'testFailover',
    document: 'mutation($pg: ID!) { testFailover(input: { protectionGroup: $pg }) { id status } }',
    variables: group,
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: NF,
      oneSite: U_SEATTLE,
      tenant: ok,
      admin: state('INVALID_STATE'),
    }),
    settle: 'operation',
    note: "the tenant's drill runs; the admin's comes while the group is TEST_FAILED_OVER",
  },
  {
    root: 'Mutation',
    field: 'failover',
    document: 'mutation($pg: ID!) { failover(input: { protectionGroup: $pg, type: PLANNED }) { id status } }',
    variables: group,
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: NF,
      oneSite: U_SEATTLE,
      default: state('INVALID_STATE'),
    }),
    note: 'while the group is TEST_FAILED_OVER',
  },
  {
    root: 'Mutation',
    field: 'failback',
    document: 'mutation($pg: ID!) { failback(input: { protectionGroup: $pg }) { id status } }',
    variables: group,
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: NF,
      oneSite: U_SEATTLE,
      default: state('INVALID_STATE'),
    }),
    note: 'while the group is TEST_FAILED_OVER',
  },
  {
    root: 'Mutation',
    field: 'cancelOperation',
    document: 'mutation($op: ID!) { cancelOperation(input: { operation: $op }) { id status } }',
    variables: (t) => ({ op: t.operationId }),
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: NF,
      oneSite: U_SEATTLE,
      default: state('INVALID_STATE'),
    }),
    note: "a finished operation of tenant A's",
  },
  {
    root: 'Mutation',
    field: 'resumeOperation',
    document: 'mutation($op: ID!) { resumeOperation(input: { operation: $op }) { id status } }',
    variables: (t) => ({ op: t.operationId }),
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: NF,
      oneSite: U_SEATTLE,
      default: state('INVALID_STATE'),
    }),
    note: "a finished operation of tenant A's",
  },
  {
    root: 'Mutation',
    field: 'testCleanup',
    document: 'mutation($pg: ID!) { testCleanup(input: { protectionGroup: $pg }) { id status } }',
    variables: group,
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: NF,
      oneSite: U_SEATTLE,
      tenant: ok,
      admin: state('INVALID_STATE'),
    }),
    settle: 'operation',
    note: "the tenant's cleanup ends the drill; the admin's comes while the group is ACTIVE again",
  },
  {
    root: 'Mutation',
    field: 'addMember',
    document:
      'mutation($pg: ID!, $vm: ID!) { addMember(input: { protectionGroup: $pg, server: $vm }) { id metadataVersion } }',
    variables: (t) => ({ pg: t.group.id, vm: t.candidateVm }),
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
    settle: 'removeCandidate',
    note: 'a VM of tenant A that is not a member (removed again after an allowed call)',
  },
  {
    root: 'Mutation',
    field: 'addMembers',
    document:
      'mutation($pg: ID!, $vm: ID!) { addMembers(input: { protectionGroup: $pg, servers: [$vm] }) { id metadataVersion } }',
    variables: (t) => ({ pg: t.group.id, vm: t.candidateVm }),
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
    settle: 'removeCandidate',
    note: 'a VM of tenant A that is not a member (removed again after an allowed call)',
  },
  {
    root: 'Mutation',
    field: 'removeMember',
    document:
      'mutation($pg: ID!, $vm: ID!) { removeMember(input: { protectionGroup: $pg, member: $vm }) { id metadataVersion } }',
    variables: (t) => ({ pg: t.group.id, vm: t.memberVm }),
    expect: all({ anonymous: U, garbage: U, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
    settle: 'readdMember',
    note: 'the group member (added again after an allowed call)',
  },
  {
    root: 'Mutation',
    field: 'deleteProtectionGroup',
    document:
      'mutation($pg: ID!) { deleteProtectionGroup(input: { protectionGroup: $pg, force: false }) { id name } }',
    variables: group,
    expect: all({
      anonymous: U,
      garbage: U,
      otherTenant: NF,
      oneSite: U_SEATTLE,
      default: state('INVALID_STATE'),
    }),
    note: 'the group has a member: allowed callers are refused for that',
  },
];

const SUBSCRIPTIONS: readonly Row[] = [
  {
    root: 'Subscription',
    field: 'operationProgress',
    document: 'subscription($id: ID!) { operationProgress(id: $id) { sequence kind status } }',
    variables: (t) => ({ id: t.operationId }),
    expect: all({ anonymous: closed, garbage: closed, otherTenant: NF, default: ok }),
    trigger: 'none',
    note: 'a finished operation: its current state comes first',
  },
  {
    root: 'Subscription',
    field: 'operationEvents',
    document:
      'subscription($pg: ID) { operationEvents(protectionGroup: $pg) { sequence kind status operation { id } } }',
    variables: group,
    expect: all({ anonymous: closed, garbage: closed, otherTenant: NF, default: ok }),
    trigger: 'syncGroup',
  },
  {
    root: 'Subscription',
    field: 'siteHealth',
    document: 'subscription { siteHealth { site { name } status } }',
    variables: () => ({}),
    expect: all({ anonymous: closed, garbage: closed, default: ok }),
    trigger: 'none',
  },
  {
    root: 'Subscription',
    field: 'boston',
    document:
      'subscription($pg: ID) { boston(filter: { protectionGroupId: $pg, kinds: [REPLICATION_COMPLETED] }) { kind storageGroupName recoveryPoint { name } } }',
    variables: (t) => ({ pg: t.reverseGroup.id }),
    expect: all({ anonymous: closed, garbage: closed, otherTenant: NF, default: ok }),
    trigger: 'replication',
    note: "filtered on tenant A's group `sec-reverse` (seattle to boston: boston receives its points)",
  },
  {
    root: 'Subscription',
    field: 'seattle',
    document:
      'subscription($pg: ID) { seattle(filter: { protectionGroupId: $pg, kinds: [REPLICATION_COMPLETED] }) { kind storageGroupName recoveryPoint { name } } }',
    variables: group,
    expect: all({ anonymous: closed, garbage: closed, otherTenant: NF, oneSite: U_SEATTLE, default: ok }),
    trigger: 'replication',
    note: "filtered on tenant A's group `sec-matrix` (boston to seattle: seattle receives its points)",
  },
];

export const TABLE: readonly Row[] = [...QUERIES, ...MUTATIONS, ...SUBSCRIPTIONS];
