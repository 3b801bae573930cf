import type { CloudService } from './http.js';

/**
 * One injected fault. `error` makes matching calls fail with that HTTP status and the
 * service's own error body; `delayMs` alone adds latency. The compute op `boot_server` is
 * special: the create call succeeds and the server ends in ERROR with a fault, as when a
 * hypervisor fails to spawn it.
 */
export interface FaultRule {
  service: CloudService | '*';
  /** Route operation (`create_server`, `list_volumes`, `authenticate`, ...) or '*' for every one. */
  op?: string;
  /** HTTP status of the injected error (for `boot_server`: the fault code). */
  error?: number;
  /** Error message. @default a message naming the service and operation */
  message?: string;
  /** Latency added to matching calls. @default 0 */
  delayMs?: number;
  /** How many matching calls it affects. @default Infinity */
  times?: number;
}

/** The fault table of a simulated cloud: rules are matched in the order they were set. */
export class FaultInjector {
  #rules: (FaultRule & { op: string; times: number })[] = [];

  /** Adds a rule. */
  set(rule: FaultRule): void {
    this.#rules.push({ ...rule, op: rule.op ?? '*', times: rule.times ?? Number.POSITIVE_INFINITY });
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules = [];
  }

  /** Consumes one use of the first rule matching the call, if any. */
  take(service: CloudService, op: string): FaultRule | undefined {
    const index = this.#rules.findIndex(
      (rule) => (rule.service === '*' || rule.service === service) && (rule.op === '*' || rule.op === op),
    );
    const rule = this.#rules[index];
    if (!rule) return undefined;
    rule.times -= 1;
    if (rule.times <= 0) this.#rules.splice(index, 1);
    return rule;
  }
}
