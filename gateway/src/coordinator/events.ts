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

/** The hub operation events are published on. */
export class OperationEventBus extends EventHub<OperationEvent> {}
