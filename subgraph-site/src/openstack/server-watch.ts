/**
 * Waiting on many servers at once with one Nova request per tick. A site recovering hundreds of VMs
 * used to ask Nova about each VM on its own, backing off to the poll interval, so each VM was seen up
 * to an interval after it came up. Here every waiter of one project is answered by one
 * `GET /servers/detail?changes-since=...` per tick (the servers changed since the oldest change the
 * waiters saw, deleted ones included), so the tick can be short and the cost does not grow with the
 * number of VMs. `changes-since` is compared with Nova's own `updated` times, never this host's clock.
 * A server just acted on gets a first look soon (`firstLookMs`, a fifth of the tick by default) rather
 * than at the next tick: a start or reboot that Nova finishes at once is seen at once, and a new batch
 * of waiters costs one early list, not one each.
 */
import { ProtectorError } from '@protector/schema';
import type { Server } from './types.js';

/** One caller waiting for one server. */
interface Waiter {
  readonly id: string;
  readonly what: string;
  /** Nova's `updated` of the server when last seen. */
  since: string;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly done: (s: Server) => boolean;
  readonly failed: (s: Server) => string | undefined;
  readonly resolve: (s: Server) => void;
  readonly reject: (err: unknown) => void;
}

/** Failed lists in a row after which the waiters of a project fail with the last error. */
const FAILURES_TOLERATED = 3;

export class ServerWatch {
  /** Waiters by the project their server belongs to. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private running = false;
  /** Lists in a row that failed, by project. */
  private readonly failures = new Map<string, number>();
  /** The loop's wait for its next tick, while it waits: when it ends, and how to end it sooner. */
  private sleeping: {
    readonly until: number;
    readonly timer: NodeJS.Timeout;
    readonly wake: () => void;
  } | null = null;
  /** A waiter came while the loop was listing: its next wait is `firstLookMs`. */
  private lookSoon = false;

  constructor(
    /** The project's servers changed at or after `changesSince` (Nova's `updated`), deleted ones too. */
    private readonly changed: (projectId: string, changesSince: string) => Promise<Server[]>,
    private readonly tickMs: number,
    private readonly firstLookMs = Math.max(5, Math.round(tickMs / 5)),
  ) {}

  /**
   * Resolves with `server` (as just read) once `done` holds for it; rejects with CLOUD_ERROR once
   * `failed` names a failure, the server is deleted, or `timeoutMs` passes.
   */
  wait(
    server: Server,
    what: string,
    done: (s: Server) => boolean,
    failed: (s: Server) => string | undefined,
    timeoutMs: number,
  ): Promise<Server> {
    return new Promise<Server>((resolve, reject) => {
      const waiter: Waiter = {
        id: server.id,
        what,
        since: server.updated,
        deadline: Date.now() + timeoutMs,
        timeoutMs,
        done,
        failed,
        resolve,
        reject,
      };
      if (this.settle(waiter, server)) return;
      let set = this.waiters.get(server.tenant_id);
      if (!set) {
        set = new Set();
        this.waiters.set(server.tenant_id, set);
      }
      set.add(waiter);
      if (!this.running) void this.run();
      else if (this.sleeping) this.lookBy(Date.now() + this.firstLookMs);
      else this.lookSoon = true; // the loop is listing: its next wait is short
    });
  }

  /** Brings the next tick forward to `at` if the loop is waiting longer than that. */
  private lookBy(at: number): void {
    const s = this.sleeping;
    if (!s || s.until <= at) return;
    clearTimeout(s.timer);
    this.wakeAt(at, s.wake);
  }

  private sleepUntil(until: number): Promise<void> {
    return new Promise<void>((wake) => this.wakeAt(until, wake));
  }

  private wakeAt(until: number, wake: () => void): void {
    const timer = setTimeout(
      () => {
        this.sleeping = null;
        wake();
      },
      Math.max(0, until - Date.now()),
    );
    this.sleeping = { until, timer, wake };
  }

  /** Answers the waiter from `server` if it can; true when it did. */
  private settle(w: Waiter, server: Server): boolean {
    w.since = server.updated;
    if (w.done(server)) {
      w.resolve(server);
      return true;
    }
    const failure =
      server.status === 'DELETED' ? 'the server was deleted while it was waited on' : w.failed(server);
    if (failure) {
      w.reject(new ProtectorError('CLOUD_ERROR', `${w.what} failed: ${failure}`, { what: w.what }));
      return true;
    }
    return false;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      // New waiters get their first look soon; between looks at the same waiters, tickMs.
      for (let wait = this.firstLookMs; this.waiters.size; ) {
        await this.sleepUntil(Date.now() + wait);
        this.lookSoon = false;
        await Promise.all([...this.waiters].map(([projectId, set]) => this.tick(projectId, set)));
        wait = this.lookSoon ? this.firstLookMs : this.tickMs;
      }
    } finally {
      this.running = false;
    }
  }

  private async tick(projectId: string, set: Set<Waiter>): Promise<void> {
    // The oldest change any waiter saw: what changed since covers every waiter.
    const oldest = [...set].map((w) => w.since).reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
    let servers: Server[];
    try {
      servers = await this.changed(projectId, oldest);
      this.failures.delete(projectId);
    } catch (err) {
      // One list Nova did not answer is asked again at the next tick: it answers for many servers, and
      // one blip must not fail them all. After FAILURES_TOLERATED in a row, every waiter learns it.
      const failures = (this.failures.get(projectId) ?? 0) + 1;
      if (failures < FAILURES_TOLERATED) {
        this.failures.set(projectId, failures);
        return;
      }
      this.failures.delete(projectId);
      for (const w of set) w.reject(err);
      this.waiters.delete(projectId);
      return;
    }
    const byId = new Map(servers.map((s) => [s.id, s]));
    const now = Date.now();
    for (const w of [...set]) {
      const s = byId.get(w.id);
      if (s && this.settle(w, s)) {
        set.delete(w);
      } else if (now >= w.deadline) {
        w.reject(
          new ProtectorError('CLOUD_ERROR', `${w.what} did not finish within ${w.timeoutMs} ms.`, {
            what: w.what,
            timeoutMs: w.timeoutMs,
          }),
        );
        set.delete(w);
      }
    }
    if (!set.size) this.waiters.delete(projectId);
  }
}
