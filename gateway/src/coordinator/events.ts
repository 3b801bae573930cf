/** Operation events: a view of the journal, published as steps move, consumed by subscriptions. */

import { EventHub } from '@protector/platform';
import type { OperationEventKind } from '@protector/schema';
import type { OperationRecord, OperationStatus } from './store.js';

export type { OperationEventKind };

export interface OperationEvent {
  readonly operationId: string;
  readonly protectionGroupId: string;
  readonly sequence: number;
  readonly kind: OperationEventKind;
  readonly occurredAt: string;
  readonly status: OperationStatus;
  readonly percentComplete: number;
  readonly stepIndex: number | null;
  readonly memberId: string | null;
  readonly message: string | null;
  /** The operation as it was when the event happened. */
  readonly operation: OperationRecord;
}

/** How many operations the bus remembers the last delivered sequence of. */
const REMEMBERED_OPERATIONS = 10_000;

/**
 * The hub operation events are published on. Subscribers see the events of one operation in
 * sequence order, never one twice and never one older than an event they already had: `publish`
 * drops an event whose sequence is not above the last one delivered for its operation.
 *
 * With several gateways (see `PostgresEventFanout`), `announce` hands an event to the fan-out,
 * which the store sends with NOTIFY in the transaction that numbers the event; the fan-out then
 * delivers every gateway's events, this one's included, in PostgreSQL's commit order, which is
 * sequence order. Without a fan-out the engine publishes its events itself.
 */
export class OperationEventBus extends EventHub<OperationEvent> {
  private announcer: ((event: OperationEvent) => string) | null = null;
  private readonly delivered = new Map<string, number>();

  /** Starts (an announcer) or stops (null) announcing this gateway's events through the fan-out. */
  fanOut(announcer: ((event: OperationEvent) => string) | null): void {
    this.announcer = announcer;
  }

  /**
   * The NOTIFY payload announcing `event` to every gateway, or null when events stay in this
   * process. A non-null payload means the fan-out delivers the event here too, once it committed.
   */
  announce(event: OperationEvent): string | null {
    return this.announcer?.(event) ?? null;
  }

  /** The highest sequence delivered for an operation (0 if none). */
  lastDelivered(operationId: string): number {
    return this.delivered.get(operationId) ?? 0;
  }

  override publish(event: OperationEvent): void {
    const last = this.delivered.get(event.operationId);
    if (last !== undefined && event.sequence <= last) return;
    this.delivered.delete(event.operationId);
    this.delivered.set(event.operationId, event.sequence);
    if (this.delivered.size > REMEMBERED_OPERATIONS) {
      const oldest = this.delivered.keys().next().value;
      if (oldest !== undefined) this.delivered.delete(oldest);
    }
    super.publish(event);
  }
}

/** An event as announced to other gateways: everything but the operation, which they read from the journal. */
export interface WireOperationEvent extends Omit<OperationEvent, 'operation'> {
  /** The gateway that published it (a gateway ignores its own announcements). */
  readonly origin: string;
}

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
export const MAX_PAYLOAD_BYTES = 7999;
const MAX_MESSAGE_CHARS = 1000;

export function encodeOperationEvent(origin: string, event: OperationEvent): string {
  const { operation: _, ...rest } = event;
  const message =
    rest.message && rest.message.length > MAX_MESSAGE_CHARS
      ? `${rest.message.slice(0, MAX_MESSAGE_CHARS - 1)}…`
      : rest.message;
  const wire: WireOperationEvent = { ...rest, message, origin };
  const text = JSON.stringify(wire);
  // Ids are bounded by their columns; only the message could be long (it is already cut above).
  return Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES ? text : JSON.stringify({ ...wire, message: null });
}

export function decodeOperationEvent(payload: string): WireOperationEvent | null {
  try {
    const w = JSON.parse(payload) as Partial<WireOperationEvent>;
    if (
      typeof w.origin !== 'string' ||
      typeof w.operationId !== 'string' ||
      typeof w.protectionGroupId !== 'string' ||
      typeof w.sequence !== 'number' ||
      typeof w.kind !== 'string' ||
      typeof w.status !== 'string'
    )
      return null;
    return w as WireOperationEvent;
  } catch {
    return null;
  }
}

/** An event carrying an operation's current state (for a late subscriber, or after missed events). */
export function snapshotEvent(op: OperationRecord, message: string): OperationEvent {
  const step =
    op.steps.find((s) => s.status === 'RUNNING') ?? op.steps.filter((s) => s.status !== 'PENDING').at(-1);
  return {
    operationId: op.id,
    protectionGroupId: op.protectionGroupId,
    sequence: op.sequence,
    kind: 'STATUS_CHANGED',
    occurredAt: new Date().toISOString(),
    status: op.status,
    percentComplete: percentComplete(op),
    stepIndex: step?.index ?? null,
    memberId: null,
    message,
    operation: op,
  };
}

/** Percent of forward steps finished (or, while rolling back, of the rollback). */
export function percentComplete(op: OperationRecord): number {
  if (op.status === 'SUCCEEDED' || op.status === 'PARTIAL' || op.status === 'ROLLED_BACK') return 100;
  const phase = op.status === 'ROLLING_BACK' ? 'rollback' : 'forward';
  const steps = op.steps.filter((s) => s.phase === phase);
  if (!steps.length) return 0;
  const done = steps.filter((s) => s.status === 'SUCCEEDED' || s.status === 'SKIPPED').length;
  return Math.floor((done * 100) / steps.length);
}
