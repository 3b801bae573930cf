/**
 * Numbering operation events in the journal, and announcing them (and site registry changes) to
 * the other gateways with PostgreSQL NOTIFY.
 */
import { runInTransaction } from '@protector/platform/db';
import type { DataSource } from 'typeorm';
import type { OperationStatus } from './store-records.js';
import type { OperationRow } from './store-tables.js';

/** The PostgreSQL channel operation events are announced on (`NOTIFY`), for the other gateways. */
export const OPERATION_EVENTS_CHANNEL = 'protector_operation_events';
/** The channel on which a gateway tells the others it changed the site registry. */
export const SITES_CHANGED_CHANNEL = 'protector_sites_changed';

export class EventAnnouncer {
  constructor(
    private readonly ds: DataSource,
    /** True when gateways share the database (PostgreSQL): only then is anything announced. */
    private readonly shared: boolean,
  ) {}

  /**
   * Numbers the next event of an operation (persisted, so it keeps rising across restarts) and
   * reads the operation's status under the same row lock: an event carries the status the journal
   * had when it was numbered, so a later event never shows an earlier status (a cancellation
   * requested from one gateway while another finishes the operation). The increment locks the
   * row, so concurrent callers (two gateways) get distinct numbers. On PostgreSQL, `announce` may
   * return a payload sent with NOTIFY in the same transaction: listeners get the notifications in
   * commit order, which is sequence order.
   */
  async nextSequence(
    id: string,
    announce?: (sequence: number, status: OperationStatus) => string | null,
  ): Promise<{ sequence: number; status: OperationStatus }> {
    return runInTransaction(this.ds, async (m) => {
      await m
        .createQueryBuilder()
        .update('operation')
        .set({ sequence: () => '"sequence" + 1' })
        .where('id = :id', { id })
        .execute();
      const { sequence, status } = await m.getRepository<OperationRow>('operation').findOneByOrFail({ id });
      const payload = this.shared ? announce?.(sequence, status as OperationStatus) : null;
      if (payload) await m.query('SELECT pg_notify($1, $2)', [OPERATION_EVENTS_CHANNEL, payload]);
      return { sequence, status: status as OperationStatus };
    });
  }

  /** Sends a notification to the gateways listening on `channel` (PostgreSQL only; no-op on SQLite). */
  async notify(channel: string, payload: string): Promise<void> {
    if (this.shared) await this.ds.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }
}
