/**
 * The step audit, which is also the idempotency record: runs each `(operationId, stepKey)` at most once
 * to success, records every attempt's outcome, and lists what ran on this site.
 */
import { randomUUID } from 'node:crypto';
import { isProtectorError, redactSecrets } from '@protector/schema';
import { ENTITY, type JsonValue, type StepAuditRow } from './entities.js';
import { REDACTED, toJsonValue } from './redact.js';
import type { SiteDb } from './site-db.js';
import type { StepAttempt, StepAuditRecord, StepStatus } from './types.js';
import { isUniqueViolation, requireText } from './validation.js';

type StepClaim = { kind: 'done'; result: unknown } | { kind: 'run'; id: string; attempt: StepAttempt };

export class StepAudit {
  readonly #db: SiteDb;
  /** Steps running in this process, so a concurrent duplicate call joins instead of running twice. */
  readonly #stepsInFlight = new Map<string, Promise<unknown>>();

  constructor(db: SiteDb) {
    this.#db = db;
  }

  /**
   * Runs one operation step at most once to success. The `(operationId, stepKey)` audit row is the
   * idempotency record:
   * - succeeded before: returns the stored result without calling `fn`;
   * - `running` (an earlier attempt crashed) or `failed`: calls `fn` again with `attempt + 1`
   *   (steps are idempotent, so a re-run after a crash is safe);
   * - `fn` throws: records the error code and message, then rethrows the original error.
   * Concurrent calls with the same key in this process share one run. The result must be JSON data:
   * it is returned as it reads back from the database (dates as ISO strings), on the first run too,
   * and must not contain secrets. `request` is stored with secrets redacted.
   */
  runStepOnce<T>(
    operationId: string,
    stepKey: string,
    name: string,
    request: unknown,
    fn: (attempt: StepAttempt) => Promise<T>,
  ): Promise<T> {
    requireText('operationId', operationId, 64);
    requireText('stepKey', stepKey, 255);
    requireText('name', name, 255);
    const key = `${operationId}\u0000${stepKey}`;
    const inFlight = this.#stepsInFlight.get(key);
    if (inFlight) return inFlight as Promise<T>;
    const run = this.#runStep(operationId, stepKey, name, request, fn).finally(() =>
      this.#stepsInFlight.delete(key),
    );
    this.#stepsInFlight.set(key, run);
    return run;
  }

  async getStepAudit(operationId: string, stepKey: string): Promise<StepAuditRecord | null> {
    const row = await this.#db.read((m) =>
      m.getRepository<StepAuditRow>(ENTITY.stepAudit).findOneBy({ operationId, stepKey }),
    );
    return row ? toStepAudit(row) : null;
  }

  /** The newest steps run on this site, optionally of one operation, newest first. */
  async listRecentStepAudits(
    filter: { operationId?: string; limit?: number } = {},
  ): Promise<StepAuditRecord[]> {
    const rows = await this.#db.read((m) =>
      m.getRepository<StepAuditRow>(ENTITY.stepAudit).find({
        where: filter.operationId ? { operationId: filter.operationId } : {},
        order: { startedAt: 'DESC', stepKey: 'DESC' },
        take: Math.min(Math.max(filter.limit ?? 100, 1), 1000),
      }),
    );
    return rows.map(toStepAudit);
  }

  /** Every step of an operation run on this site, in start order. */
  async listStepAudits(operationId: string): Promise<StepAuditRecord[]> {
    const rows = await this.#db.read((m) =>
      m
        .getRepository<StepAuditRow>(ENTITY.stepAudit)
        .find({ where: { operationId }, order: { startedAt: 'ASC', stepKey: 'ASC' } }),
    );
    return rows.map(toStepAudit);
  }

  async #runStep<T>(
    operationId: string,
    stepKey: string,
    name: string,
    request: unknown,
    fn: (attempt: StepAttempt) => Promise<T>,
  ): Promise<T> {
    const claim = await this.#claimStep(
      operationId,
      stepKey,
      name,
      redactSecrets(toJsonValue(request), REDACTED),
    );
    if (claim.kind === 'done') return claim.result as T;
    let stored: JsonValue;
    try {
      stored = toJsonValue(await fn(claim.attempt));
    } catch (err) {
      await this.#finishStep(claim.id, claim.attempt.attempt, {
        status: 'failed',
        errorCode: isProtectorError(err) ? err.code : 'INTERNAL',
        errorMessage: (err instanceof Error ? err.message : String(err)).slice(0, 4000),
      }).catch(() => undefined); // the step's own error matters more than a failed audit write
      throw err;
    }
    await this.#finishStep(claim.id, claim.attempt.attempt, { status: 'succeeded', result: stored });
    return stored as T;
  }

  async #claimStep(
    operationId: string,
    stepKey: string,
    name: string,
    request: JsonValue,
  ): Promise<StepClaim> {
    for (let tries = 0; ; tries += 1) {
      try {
        return await this.#db.tx(async (m) => {
          const repo = m.getRepository<StepAuditRow>(ENTITY.stepAudit);
          const row = await repo.findOne({ where: { operationId, stepKey }, ...this.#db.forUpdate() });
          const now = new Date();
          if (row?.status === 'succeeded') return { kind: 'done' as const, result: row.result };
          if (row) {
            const attempt = row.attempt + 1;
            // An earlier attempt's note (its `result` while it ran) is kept for this one to follow.
            await repo.update(
              { id: row.id },
              {
                name,
                status: 'running',
                attempt,
                request,
                result: row.result,
                errorCode: null,
                errorMessage: null,
                startedAt: now,
                finishedAt: null,
              },
            );
            return {
              kind: 'run' as const,
              id: row.id,
              attempt: this.#attempt(row.id, attempt, row.status as StepStatus, row.result as JsonValue),
            };
          }
          const id = randomUUID();
          await repo.insert({
            id,
            operationId,
            stepKey,
            name,
            status: 'running',
            attempt: 1,
            request,
            result: null,
            errorCode: null,
            errorMessage: null,
            startedAt: now,
            finishedAt: null,
          });
          return { kind: 'run' as const, id, attempt: this.#attempt(id, 1, null, null) };
        });
      } catch (err) {
        // another process inserted the same step between our read and insert: read it again
        if (tries === 0 && isUniqueViolation(err)) continue;
        throw err;
      }
    }
  }

  #attempt(
    id: string,
    attempt: number,
    previousStatus: StepStatus | null,
    progress: JsonValue | null,
  ): StepAttempt {
    return {
      attempt,
      previousStatus,
      progress,
      note: (note) =>
        this.#db
          .tx((m) =>
            m
              .getRepository<StepAuditRow>(ENTITY.stepAudit)
              .update({ id, attempt, status: 'running' }, { result: note }),
          )
          .then(() => undefined),
    };
  }

  async #finishStep(id: string, attempt: number, outcome: Partial<StepAuditRow>): Promise<void> {
    // Only the attempt that claimed the row may close it; a newer attempt elsewhere owns it now.
    await this.#db.tx((m) =>
      m
        .getRepository<StepAuditRow>(ENTITY.stepAudit)
        .update({ id, attempt }, { ...outcome, finishedAt: new Date() }),
    );
  }
}

const toStepAudit = (row: StepAuditRow): StepAuditRecord => ({
  id: row.id,
  operationId: row.operationId,
  stepKey: row.stepKey,
  name: row.name,
  status: row.status as StepStatus,
  attempt: row.attempt,
  request: row.request,
  result: row.result,
  errorCode: row.errorCode,
  errorMessage: row.errorMessage,
  startedAt: row.startedAt,
  finishedAt: row.finishedAt,
});
