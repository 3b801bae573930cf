/**
 * Operation leases: which gateway runs an operation (`owner` until `lease_until`), taken, renewed
 * and given up atomically, with times read from the store's clock.
 */
import type { Clock } from '@protector/platform';
import { runInTransaction } from '@protector/platform/db';
import type { DataSource } from 'typeorm';

export class OperationLeases {
  constructor(
    private readonly ds: DataSource,
    /** True when gateways share the database (PostgreSQL): only then can another gateway hold a lease. */
    private readonly shared: boolean,
    private readonly clock: Clock,
  ) {}

  /**
   * Takes or extends the lease on an operation for `owner`; false when another gateway holds an
   * unexpired lease. Atomic: one conditional UPDATE (PostgreSQL re-checks the condition after a
   * concurrent claim commits, so two gateways never both win). Times are ISO strings in UTC, which
   * sort as they compare; gateways' clocks must agree to well within the lease (NTP). On SQLite
   * (one gateway) the claim always succeeds, so a restarted gateway resumes at once.
   */
  async claimOperation(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = new Date(this.clock.now());
    const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
    const res = await runInTransaction(this.ds, (m) => {
      const qb = m
        .createQueryBuilder()
        .update('operation')
        .set({ owner, leaseUntil })
        .where('id = :id', { id });
      if (this.shared)
        qb.andWhere('("owner" IS NULL OR "owner" = :owner OR "lease_until" < :now)', {
          owner,
          now: now.toISOString(),
        });
      return qb.execute();
    });
    return (res.affected ?? 0) > 0;
  }

  /** Gives up `owner`'s lease (no-op if another gateway took it). */
  async releaseOperation(id: string, owner: string): Promise<void> {
    await runInTransaction(this.ds, (m) =>
      m
        .createQueryBuilder()
        .update('operation')
        .set({ owner: null, leaseUntil: null })
        .where('id = :id AND "owner" = :owner', { id, owner })
        .execute(),
    );
  }
}
