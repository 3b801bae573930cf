/**
 * A FlashArray model in SQLite: several arrays, their replication connections, volumes, protection
 * groups with targets and schedules, group snapshots whose transfer takes simulated time, pods, and
 * destroy vs eradicate. It answers REST 2.x requests (`handle`) with FlashArray's envelopes and error
 * texts, so the in-process mock driver and the HTTP simulator (`fa-sim`) enforce the same rules.
 * Several processes may open the same data dir, a fresh one too (`openSqlite`); time-based work (transfers,
 * schedules, retention, pod resync) is brought up to date at the start of every request.
 *
 * This file composes the model: each part (arrays, volumes, snapshots, protection groups, pods,
 * replication, routes) is a module of its own under `array/`.
 */
import type { ArrayRequest, ArrayResponse } from '../client/wire.js';
import {
  type ArrayFaults,
  arrayFaults,
  arrayNames,
  arrayRow,
  type ConnectionStatus,
  type ConnectionType,
  linkStatus,
  seedArrays,
  setArrayFaults,
  setLinkStatus,
  setLinkType,
} from './arrays.js';
import { conformanceProblems } from './conformance.js';
import { type ArrayModel, openArrayModel } from './model.js';
import { completePromotions, hostWrite, resyncPods } from './pods.js';
import { advanceTransfers, runSchedules } from './replication.js';
import { ArrayError } from './rest.js';
import { route } from './router.js';
import { type ContentEntry, contentOf } from './volumes.js';

/**
 * Every answer is checked against the REST 2.26 description: one that does not conform is a bug in
 * the model, thrown (fa-sim answers it 500) so that no test passes on a field a real array lacks.
 */
function conforming(req: ArrayRequest, res: ArrayResponse): ArrayResponse {
  const problems = conformanceProblems(req.method, req.path, res.status, res.body);
  if (problems.length) throw new Error(`fa-sim answer is not REST 2.26: ${problems.join('; ')}`);
  return res;
}

export type { ArrayFaults } from './arrays.js';
export { ArrayError } from './rest.js';
export type { ContentEntry } from './volumes.js';

export interface FlashArrayStoreOptions {
  /** SQLite file, e.g. `<data dir>/flasharray.sqlite`. */
  readonly file: string;
  /** Arrays to create when absent; every pair is connected for replication. */
  readonly arrays?: readonly string[];
  /** Simulated time to transfer one group snapshot to its target, before `slowFactor`. */
  readonly transferMs?: number;
  readonly now?: () => number;
}

/** The FlashArray model. One instance per process; any number of processes per file. */
export class FlashArrayStore {
  private readonly m: ArrayModel;

  private constructor(opts: FlashArrayStoreOptions) {
    this.m = openArrayModel(opts.file, opts.now ?? Date.now, opts.transferMs ?? 2000);
  }

  /** Opens (creating when needed) the model and makes sure `arrays` exist and are connected pairwise. */
  static open(opts: FlashArrayStoreOptions): FlashArrayStore {
    const store = new FlashArrayStore(opts);
    store.tx(() => seedArrays(store.m, opts.arrays ?? []));
    return store;
  }

  close(): void {
    this.m.db.close();
  }

  // ---- simulation controls (not part of the REST API) ----

  arrayNames(): string[] {
    return arrayNames(this.m);
  }

  faults(array: string): ArrayFaults {
    return arrayFaults(this.m, array);
  }

  /** Injects or clears faults on one array. */
  setFaults(array: string, faults: Partial<ArrayFaults>): void {
    this.tx(() => {
      this.advance();
      setArrayFaults(this.m, array, faults);
    });
  }

  /** Brings the replication link between two arrays up or down. */
  setLink(a: string, b: string, status: ConnectionStatus): void {
    this.tx(() => {
      this.advance();
      setLinkStatus(this.m, a, b, status);
    });
  }

  /** Makes the connection between two arrays carry sync (pods and groups) or async (groups only) replication. */
  setLinkType(a: string, b: string, type: ConnectionType): void {
    this.tx(() => setLinkType(this.m, a, b, type));
  }

  linkStatus(a: string, b: string): ConnectionStatus {
    return linkStatus(this.m, a, b);
  }

  /**
   * A host write to a volume: its content version advances. For a pod volume the write is mirrored
   * synchronously to every pod array that can be reached; the others fall offline until resynced.
   */
  simulateWrite(array: string, volume: string): { origin: string; version: number } {
    return this.tx(() => {
      this.advance();
      return hostWrite(this.m, array, volume);
    });
  }

  /**
   * The content (origin serial, write count) of volumes and volume snapshots on an array: sim-only
   * data, which no REST resource carries. `names` picks some (absent ones are left out); else all live ones.
   */
  content(array: string, names?: readonly string[]): ContentEntry[] {
    return contentOf(this.m, array, names);
  }

  /** Brings scheduled snapshots, transfers and pod resync up to date; simulators call it on a timer. */
  tick(): void {
    this.tx(() => this.advance());
  }

  /**
   * Answers one REST 2.x request on `array` the way a FlashArray does. The caller (HTTP server or
   * in-process transport) handles sessions; faults `down` and `rateLimit` are applied here.
   */
  handle(array: string, req: ArrayRequest): ArrayResponse {
    try {
      return this.tx(() => {
        const row = arrayRow(this.m, array);
        if (row.rate_limit > 0) {
          this.m.db.prepare('UPDATE arrays SET rate_limit = rate_limit - 1 WHERE name = ?').run(array);
          return {
            status: 429,
            body: { errors: [{ message: 'Rate limit exceeded.', context: array }] },
            headers: {
              'x-ratelimit-limit-second': '10',
              'x-ratelimit-remaining-second': '0',
              'retry-after': '0',
            },
          };
        }
        this.advance();
        return conforming(req, { status: 200, body: route(this.m, array, req) });
      });
    } catch (err) {
      if (err instanceof ArrayError) {
        return conforming(req, {
          status: err.status,
          body: { errors: [{ message: err.message, context: err.context }] },
        });
      }
      throw err;
    }
  }

  /** Brings transfers, schedules, retention and pod resync up to date. Called by every request. */
  private advance(): void {
    const now = this.m.now();
    runSchedules(this.m, now);
    advanceTransfers(this.m, now);
    resyncPods(this.m);
    completePromotions(this.m);
  }

  private tx<T>(fn: () => T): T {
    return this.m.db.transaction(fn).immediate();
  }
}
