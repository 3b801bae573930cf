/**
 * Waiting on many servers at once with one Nova request per tick. A site recovering hundreds of VMs
 * used to ask Nova about each VM on its own, backing off to the poll interval, so each VM was seen up
 * to an interval after it came up. Here every waiter of one project is answered by one
 * `GET /servers/detail?changes-since=...` per tick (the servers changed since the oldest change the
 * waiters saw, deleted ones included), so the tick can be short and the cost does not grow with the
 * number of VMs. `changes-since` is compared with Nova's own `updated` times, never this host's clock.
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

  constructor(
    /** The project's servers changed at or after `changesSince` (Nova's `updated`), deleted ones too. */
    private readonly changed: (projectId: string, changesSince: string) => Promise<Server[]>,
    private readonly tickMs: number,
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
    });
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
      while (this.waiters.size) {
        await new Promise((r) => setTimeout(r, this.tickMs));
        await Promise.all([...this.waiters].map(([projectId, set]) => this.tick(projectId, set)));
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
