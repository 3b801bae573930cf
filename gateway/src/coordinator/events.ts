/** Operation events: a view of the journal, published as steps move, consumed by subscriptions. */
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

type Listener = (e: OperationEvent) => void;

export class OperationEventBus {
  private readonly listeners = new Set<Listener>();

  publish(e: OperationEvent): void {
    for (const l of this.listeners) l(e);
  }

  /**
   * Events matching `filter`; the iterator ends after an event for which `last` is true. `first` events
   * (e.g. the current state for a late subscriber) are delivered before any live one.
   */
  subscribe(
    filter: (e: OperationEvent) => boolean,
    opts: { first?: readonly OperationEvent[]; last?: (e: OperationEvent) => boolean } = {},
  ): AsyncGenerator<OperationEvent> {
    const queue: OperationEvent[] = [...(opts.first ?? [])];
    let wake: (() => void) | null = null;
    const listener: Listener = (e) => {
      if (!filter(e)) return;
      queue.push(e);
      wake?.();
    };
    this.listeners.add(listener);
    const listeners = this.listeners;
    return (async function* () {
      const seen = new Map<string, number>();
      try {
        for (;;) {
          while (queue.length) {
            const e = queue.shift()!;
            // The snapshot and a live event may overlap: deliver each sequence of an operation once.
            if (e.sequence <= (seen.get(e.operationId) ?? -1)) continue;
            seen.set(e.operationId, e.sequence);
            yield e;
            if (opts.last?.(e)) return;
          }
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = null;
        }
      } finally {
        listeners.delete(listener);
      }
    })();
  }
}
