/**
 * Replication policies: reads without the array tokens, token decryption for storage calls, the
 * sealed write a metadata change makes, and the checks on policy input.
 */
import { decryptSecret, encryptSecret, type SecretKey } from '@protector/platform/db';
import { arrayUrlProblem, ProtectorError, policyNumberProblem } from '@protector/schema';
import type { EntityManager } from 'typeorm';
import { ENTITY, type ReplicationPolicyRow } from './entities.js';
import type { SiteDb } from './site-db.js';
import {
  REPLICATION_POLICY_STATUSES,
  type ReplicationPolicyInput,
  type ReplicationPolicyRecord,
  type ReplicationPolicyTokens,
} from './types.js';
import { badInput, oneOf, requireFlashArrayName, requireUrl } from './validation.js';

/** The policy of a PG without its tokens (only `hasPrimaryToken` / `hasSecondaryToken`). */
export async function getReplicationPolicy(
  db: SiteDb,
  protectionGroupId: string,
): Promise<ReplicationPolicyRecord | null> {
  return (await getReplicationPolicies(db, [protectionGroupId])).get(protectionGroupId) ?? null;
}

/** The policies of several PGs at once (one query), without their tokens; a PG without one is absent. */
export async function getReplicationPolicies(
  db: SiteDb,
  protectionGroupIds: readonly string[],
): Promise<Map<string, ReplicationPolicyRecord>> {
  if (protectionGroupIds.length === 0) return new Map();
  const rows = await db.read((m) =>
    m
      .getRepository<ReplicationPolicyRow>(ENTITY.replicationPolicy)
      .createQueryBuilder('p')
      .addSelect(['p.primaryTokenCipher', 'p.secondaryTokenCipher'])
      .where('p.protectionGroupId IN (:...ids)', { ids: [...new Set(protectionGroupIds)] })
      .getMany(),
  );
  return new Map(rows.map((row) => [row.protectionGroupId, toPolicy(row)]));
}

/** A policy's schedule and RPO, which background sweeps read. */
export type ReplicationSchedule = Pick<ReplicationPolicyRecord, 'replicationIntervalSeconds' | 'rpoMinutes'>;

/** Every policy's schedule and RPO by PG id, in one query of raw rows (see `listProtectionGroupHeads`). */
export async function getReplicationSchedules(db: SiteDb): Promise<Map<string, ReplicationSchedule>> {
  const rows = await db.read((m) =>
    m
      .getRepository<ReplicationPolicyRow>(ENTITY.replicationPolicy)
      .createQueryBuilder('p')
      .select('p.protectionGroupId', 'id')
      .addSelect('p.replicationIntervalSeconds', 'interval')
      .addSelect('p.rpoMinutes', 'rpo')
      .getRawMany<{ id: string; interval: number | string; rpo: number | string }>(),
  );
  return new Map(
    rows.map((r) => [r.id, { replicationIntervalSeconds: Number(r.interval), rpoMinutes: Number(r.rpo) }]),
  );
}

/**
 * Decrypts the array tokens of a PG's policy. For the engine's storage calls only: never pass
 * the result to a resolver or a logger.
 */
export async function decryptTokens(db: SiteDb, protectionGroupId: string): Promise<ReplicationPolicyTokens> {
  const row = await db.read((m) => loadPolicy(m, protectionGroupId));
  if (!row) {
    throw new ProtectorError(
      'NOT_FOUND',
      `Protection Group ${protectionGroupId} has no replication policy; create one with createReplicationPolicy`,
      { protectionGroupId },
    );
  }
  const open = (cipher: string | null, which: 'primary' | 'secondary') =>
    cipher === null ? null : decryptSecret(db.key, cipher, tokenContext(protectionGroupId, which));
  return {
    primaryArrayToken: open(row.primaryTokenCipher, 'primary'),
    secondaryArrayToken: open(row.secondaryTokenCipher, 'secondary'),
  };
}

/**
 * Writes the policy of a PG inside the caller's metadata transaction. A token left `undefined` keeps
 * the stored one, `null` removes it; tokens are sealed with `key`.
 */
export async function putPolicy(
  m: EntityManager,
  key: SecretKey,
  pgId: string,
  input: ReplicationPolicyInput,
  now: Date,
): Promise<void> {
  const existing = await loadPolicy(m, pgId);
  const seal = (token: string | null | undefined, previous: string | null, which: 'primary' | 'secondary') =>
    token === undefined
      ? previous
      : token === null
        ? null
        : encryptSecret(key, token, tokenContext(pgId, which));
  const row: ReplicationPolicyRow = {
    protectionGroupId: pgId,
    primaryArrayUrl: input.primaryArrayUrl,
    secondaryArrayUrl: input.secondaryArrayUrl,
    primaryTokenCipher: seal(input.primaryArrayToken, existing?.primaryTokenCipher ?? null, 'primary'),
    secondaryTokenCipher: seal(
      input.secondaryArrayToken,
      existing?.secondaryTokenCipher ?? null,
      'secondary',
    ),
    purePgName: input.purePgName === undefined ? (existing?.purePgName ?? null) : input.purePgName,
    replicationIntervalSeconds: input.replicationIntervalSeconds,
    rpoMinutes: input.rpoMinutes,
    status: input.status ?? existing?.status ?? 'active',
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  const repo = m.getRepository<ReplicationPolicyRow>(ENTITY.replicationPolicy);
  if (existing) await repo.update({ protectionGroupId: pgId }, row);
  else await repo.insert(row);
}

/** Checks the `replicationPolicy` of a metadata write. */
export function validatePolicy(policy: ReplicationPolicyInput): void {
  // An empty URL is one not given: the array of [storage] in that role (the mock driver needs none).
  for (const field of ['primaryArrayUrl', 'secondaryArrayUrl'] as const) {
    if (policy[field] !== '') requireUrl(`replicationPolicy.${field}`, policy[field], arrayUrlProblem);
  }
  for (const field of ['primaryArrayToken', 'secondaryArrayToken'] as const) {
    const token = policy[field];
    if (typeof token === 'string' && token.trim() === '') {
      throw badInput(`replicationPolicy.${field}`, 'must not be empty; pass null to remove the token');
    }
  }
  if (policy.purePgName != null) requireFlashArrayName('replicationPolicy.purePgName', policy.purePgName);
  for (const field of ['replicationIntervalSeconds', 'rpoMinutes'] as const) {
    const problem = policyNumberProblem(field, policy[field]);
    if (problem) throw badInput(`replicationPolicy.${field}`, problem.replace(`${field} `, ''));
  }
  if (policy.status !== undefined)
    oneOf('replicationPolicy.status', policy.status, REPLICATION_POLICY_STATUSES);
}

/** The policy row with its token ciphers (which a plain find leaves out). */
function loadPolicy(m: EntityManager, protectionGroupId: string): Promise<ReplicationPolicyRow | null> {
  return m
    .getRepository<ReplicationPolicyRow>(ENTITY.replicationPolicy)
    .createQueryBuilder('p')
    .addSelect(['p.primaryTokenCipher', 'p.secondaryTokenCipher'])
    .where('p.protectionGroupId = :protectionGroupId', { protectionGroupId })
    .getOne();
}

const tokenContext = (pgId: string, which: 'primary' | 'secondary') => `replication_policy:${pgId}:${which}`;

/** Deliberately lists fields one by one: the cipher columns must never be copied into a record. */
const toPolicy = (row: ReplicationPolicyRow): ReplicationPolicyRecord => ({
  protectionGroupId: row.protectionGroupId,
  primaryArrayUrl: row.primaryArrayUrl,
  secondaryArrayUrl: row.secondaryArrayUrl,
  hasPrimaryToken: row.primaryTokenCipher !== null,
  hasSecondaryToken: row.secondaryTokenCipher !== null,
  purePgName: row.purePgName,
  replicationIntervalSeconds: row.replicationIntervalSeconds,
  rpoMinutes: row.rpoMinutes,
  status: row.status as ReplicationPolicyRecord['status'],
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});
