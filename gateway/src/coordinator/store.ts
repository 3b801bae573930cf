/**
 * The coordinator's own database, one facade over its parts: the site registry, the operation
 * journal, operation leases and event numbering (`store-*.ts`). Protection Group metadata is not here.
 */
import { type Clock, systemClock } from '@protector/platform';
import { dialectOf, type SecretKey } from '@protector/platform/db';
import type { DataSource } from 'typeorm';
import { EventAnnouncer } from './store-announce.js';
import { OperationLeases } from './store-leases.js';
import {
  type NewOperation,
  type OperationFilter,
  OperationJournal,
  type OperationPatch,
  type StepPatch,
} from './store-operations.js';
import type {
  NewStep,
  OperationRecord,
  OperationStatus,
  ServiceCredentials,
  SiteRecord,
} from './store-records.js';
import { SiteRecords, type SiteRegistration } from './store-sites.js';

export { OPERATION_EVENTS_CHANNEL, SITES_CHANGED_CHANNEL } from './store-announce.js';
export {
  AddOperationLease1732500000000,
  COORDINATOR_MIGRATIONS,
  InitialCoordinatorSchema1732400000000,
  openCoordinatorDataSource,
} from './store-migrations.js';
export type { NewOperation, OperationFilter, OperationPatch, StepPatch } from './store-operations.js';
export {
  type ErrorJson,
  type MemberResult,
  type NewStep,
  type OperationRecord,
  type OperationStatus,
  type OperationType,
  type ServiceCredentials,
  type SiteRecord,
  type StepRecord,
  type StepStatus,
  TERMINAL_STATUSES,
} from './store-records.js';
export type { SiteRegistration } from './store-sites.js';

/** Repository over the coordinator database. */
export class CoordinatorStore {
  /**
   * True on PostgreSQL, where several gateways may share the database: operation leases are
   * enforced and events are announced with NOTIFY. SQLite is one gateway's own database.
   */
  readonly shared: boolean;
  private readonly sites: SiteRecords;
  private readonly journal: OperationJournal;
  private readonly leases: OperationLeases;
  private readonly announcer: EventAnnouncer;

  /** `clock` gives the times the store writes: registrations, creations and leases. */
  constructor(ds: DataSource, secretKey: SecretKey, clock: Clock = systemClock) {
    this.shared = dialectOf(ds) === 'postgres';
    this.sites = new SiteRecords(ds, secretKey, clock);
    this.journal = new OperationJournal(ds, clock);
    this.leases = new OperationLeases(ds, this.shared, clock);
    this.announcer = new EventAnnouncer(ds, this.shared);
  }

  // ---- sites (store-sites.ts) ----

  listSites(): Promise<SiteRecord[]> {
    return this.sites.listSites();
  }

  getSite(name: string): Promise<SiteRecord | null> {
    return this.sites.getSite(name);
  }

  /** Registers a site or updates it; refuses a key another site uses (ALREADY_EXISTS). */
  registerSite(input: SiteRegistration): Promise<SiteRecord> {
    return this.sites.registerSite(input);
  }

  deleteSite(name: string): Promise<void> {
    return this.sites.deleteSite(name);
  }

  /** The decrypted service credentials of a site (never returned by the API). */
  serviceCredentials(name: string): Promise<ServiceCredentials | null> {
    return this.sites.serviceCredentials(name);
  }

  // ---- operations (store-operations.ts) ----

  /** Creates an operation and its steps; refuses with OPERATION_IN_PROGRESS while another acts on the group. */
  createOperation(input: NewOperation): Promise<OperationRecord> {
    return this.journal.createOperation(input);
  }

  /** Appends steps (a rollback plan) after the existing ones. */
  appendSteps(id: string, steps: readonly NewStep[]): Promise<void> {
    return this.journal.appendSteps(id, steps);
  }

  getOperation(id: string): Promise<OperationRecord | null> {
    return this.journal.getOperation(id);
  }

  /** The operations the filter selects, newest first. */
  listOperations(filter: OperationFilter): Promise<OperationRecord[]> {
    return this.journal.listOperations(filter);
  }

  /** Updates an operation; a terminal status releases the group for the next operation. */
  updateOperation(id: string, patch: OperationPatch): Promise<OperationRecord> {
    return this.journal.updateOperation(id, patch);
  }

  updateStep(id: string, index: number, patch: StepPatch): Promise<void> {
    return this.journal.updateStep(id, index, patch);
  }

  // ---- events (store-announce.ts) ----

  /**
   * Numbers the next event of an operation and reads its status under the same row lock; on
   * PostgreSQL, NOTIFYs what `announce` returns in that transaction (see {@link EventAnnouncer.nextSequence}).
   */
  nextSequence(
    id: string,
    announce?: (sequence: number, status: OperationStatus) => string | null,
  ): Promise<{ sequence: number; status: OperationStatus }> {
    return this.announcer.nextSequence(id, announce);
  }

  /** Sends a notification to the gateways listening on `channel` (PostgreSQL only; no-op on SQLite). */
  notify(channel: string, payload: string): Promise<void> {
    return this.announcer.notify(channel, payload);
  }

  // ---- leases: which gateway runs an operation (store-leases.ts) ----

  /**
   * Takes or extends the lease on an operation for `owner`; false when another gateway holds an
   * unexpired lease (see {@link OperationLeases.claimOperation}). On SQLite it always succeeds.
   */
  claimOperation(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.leases.claimOperation(id, owner, leaseMs);
  }

  /** Gives up `owner`'s lease (no-op if another gateway took it). */
  releaseOperation(id: string, owner: string): Promise<void> {
    return this.leases.releaseOperation(id, owner);
  }
}
