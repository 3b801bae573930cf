/** Operation events: a view of the journal, published as steps move, consumed by subscriptions. */
import { EventHub } from '@protector/schema';
import type { OperationRecord, OperationStatus } from './store.js';

export type OperationEventKind =
  | 'CREATED'
  | 'STATUS_CHANGED'
  | 'STEP_STARTED'
  | 'STEP_FINISHED'
  | 'MEMBER_UPDATED';

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

/**
 * The hub operation events are published on. `publish` delivers to this gateway's subscribers;
 * with several gateways, `encode` also gives the engine the payload other gateways receive (see
 * `PostgresEventFanout`), which the store sends with NOTIFY in the transaction that numbers the event.
 */
export class OperationEventBus extends EventHub<OperationEvent> {
  private encoder: ((event: OperationEvent) => string) | null = null;

  /** Starts (an encoder) or stops (null) announcing this gateway's events to the other gateways. */
  fanOut(encoder: ((event: OperationEvent) => string) | null): void {
    this.encoder = encoder;
  }

  /** The payload announcing `event` to other gateways, or null when events stay in this process. */
  encode(event: OperationEvent): string | null {
    return this.encoder?.(event) ?? null;
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
