import type { StepStatus } from '@protector/schema';
import { describe, expect, it } from 'vitest';
import { forwardPlan, nextBatch } from './plans.js';
import type { OperationRecord, StepRecord } from './store.js';

/** A failback's journal with each step in the status `statuses` gives it (PENDING for the rest). */
function failback(statuses: Record<string, StepStatus>): OperationRecord {
  const steps: StepRecord[] = forwardPlan('FAILBACK', 'ASYNC').map((s, index) => ({
    index,
    key: s.key,
    name: s.name,
    site: null,
    phase: 'forward',
    status: statuses[s.key] ?? 'PENDING',
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
    result: null,
  }));
  return { type: 'FAILBACK', status: 'RUNNING', steps } as unknown as OperationRecord;
}

const keys = (steps: readonly StepRecord[]) => steps.map((s) => s.key);
const done = (...k: string[]) => Object.fromEntries(k.map((key) => [key, 'SUCCEEDED' as StepStatus]));

describe('nextBatch: the steps the engine runs now', () => {
  it('runs one step at a time where the plan says nothing else', () => {
    expect(keys(nextBatch(failback({}), 'forward'))).toEqual(['status:FAILING_BACK']);
    expect(keys(nextBatch(failback(done('status:FAILING_BACK')), 'forward'))).toEqual(['reprotect']);
  });

  it("runs failback's sync after reprotecting together with the stop on the source", () => {
    const op = failback(done('status:FAILING_BACK', 'reprotect'));
    expect(keys(nextBatch(op, 'forward'))).toEqual(['sync-after-reprotect', 'stop']);
  });

  it('runs again only what of a batch did not finish, whichever step it was', () => {
    const base = done('status:FAILING_BACK', 'reprotect');
    expect(
      keys(nextBatch(failback({ ...base, 'sync-after-reprotect': 'SUCCEEDED', stop: 'FAILED' }), 'forward')),
    ).toEqual(['stop']);
    expect(
      keys(nextBatch(failback({ ...base, 'sync-after-reprotect': 'RUNNING', stop: 'SUCCEEDED' }), 'forward')),
    ).toEqual(['sync-after-reprotect']);
    // Nothing waits on a batch that finished: the next step is alone.
    expect(
      keys(nextBatch(failback({ ...base, 'sync-after-reprotect': 'SUCCEEDED', stop: 'SKIPPED' }), 'forward')),
    ).toEqual(['final-sync']);
  });

  it('is empty once the phase is done, and reads the rollback phase separately', () => {
    const all = Object.fromEntries(forwardPlan('FAILBACK', 'ASYNC').map((s) => [s.key, 'SUCCEEDED']));
    expect(nextBatch(failback(all as Record<string, StepStatus>), 'forward')).toEqual([]);
    expect(nextBatch(failback({}), 'rollback')).toEqual([]);
  });
});
