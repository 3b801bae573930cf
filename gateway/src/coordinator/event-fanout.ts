/**
 * Operation events across gateways that share one PostgreSQL coordinator database. Each gateway
 * announces its events with NOTIFY (sent by the store in the transaction that numbers the event)
 * and LISTENs on a dedicated connection. Every gateway's subscribers, the announcing gateway's
 * included, get the events from that connection, so they all see one order: PostgreSQL delivers
 * notifications in commit order, and an operation's events commit in sequence order (numbering
 * locks the operation's row). A gateway's own events come back complete from memory; another
 * gateway's are completed with the operation read from the journal.
 * Site health is not fanned out: every gateway checks the sites itself.
 */
import pg from 'pg';
import {
  decodeOperationEvent,
  encodeOperationEvent,
  type OperationEvent,
  type OperationEventBus,
  snapshotEvent,
  type WireOperationEvent,
} from './events.js';
import {
  type CoordinatorStore,
  OPERATION_EVENTS_CHANNEL,
  SITES_CHANGED_CHANNEL,
  TERMINAL_STATUSES,
} from './store.js';

/** Own events awaiting their notification; beyond this many, the connection is presumed lost. */
const MAX_PENDING_OWN = 10_000;

export interface EventFanoutOptions {
  /** The coordinator database (`postgresql://...`), the one the store uses. */
  readonly url: string;
  readonly bus: OperationEventBus;
  readonly store: CoordinatorStore;
  /** This gateway's name: its announcements carry it, and it skips them when they come back. */
  readonly origin: string;
  readonly log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
  /** Called when another gateway changed the site registry (and after a reconnection, in case one did). */
  readonly onSitesChanged?: () => Promise<void>;
  /** First reconnection delay after the LISTEN connection dropped; doubles up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export class PostgresEventFanout {
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private backoffMs: number;
  /** When the LISTEN connection dropped (the catch-up looks at operations created since). */
  private droppedAt: Date | null = null;
  /** Deliveries run one after another, so subscribers see the order PostgreSQL delivered. */
  private chain: Promise<void> = Promise.resolve();
  /** This gateway's announced events, by `operationId:sequence`, until their notification comes back. */
  private readonly own = new Map<string, OperationEvent>();
  /** Unfinished operations this gateway delivered events of, for the catch-up after a reconnection. */
  private readonly unfinished = new Set<string>();

  constructor(private readonly opts: EventFanoutOptions) {
    this.backoffMs = opts.minBackoffMs ?? 500;
  }

  /** Connects and LISTENs (throws if the database cannot be reached), then announces this gateway's events. */
  async start(): Promise<void> {
    await this.connect();
    this.opts.bus.fanOut((event) => {
      // Kept until the notification comes back (or a catch-up replaces what was lost with it).
      if (this.own.size >= MAX_PENDING_OWN) this.own.clear();
      this.own.set(`${event.operationId}:${event.sequence}`, event);
      return encodeOperationEvent(this.opts.origin, event);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.bus.fanOut(null);
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
    await this.chain;
  }

  /** The backend process id of the LISTEN connection (tests use it to cut the connection). */
  get listenerPid(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      application_name: 'protector-gateway-events',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client.on('notification', (msg) => {
      if (msg.channel === OPERATION_EVENTS_CHANNEL && msg.payload) this.receive(msg.payload);
      if (msg.channel === SITES_CHANGED_CHANNEL && msg.payload !== this.opts.origin) this.sitesChanged();
    });
    client.on('error', (err) => this.dropped(client, err));
    client.on('end', () => this.dropped(client, null));
    await client.connect();
    try {
      await client.query(`LISTEN ${OPERATION_EVENTS_CHANNEL}; LISTEN ${SITES_CHANGED_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  private dropped(client: pg.Client, err: Error | null): void {
    if (this.client !== client || this.stopped) return;
    this.client = null;
    this.droppedAt ??= new Date();
    client.end().catch(() => undefined);
    this.opts.log(
      'WARNING',
      `the operation event connection to the database dropped${err ? ` (${err.message})` : ''}; reconnecting in ${this.backoffMs} ms`,
    );
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 30_000);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().then(
        () => {
          if (this.stopped) return;
          this.backoffMs = this.opts.minBackoffMs ?? 500;
          this.opts.log('INFO', 'the operation event connection to the database is back');
          const since = this.droppedAt ?? new Date();
          this.droppedAt = null;
          this.enqueue(() => this.catchUp(since));
          this.sitesChanged();
        },
        (err) => {
          if (this.stopped) return;
          this.opts.log(
            'WARNING',
            `reconnecting the operation event connection failed (${(err as Error).message}); retrying in ${this.backoffMs} ms`,
          );
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.retry.unref();
  }

  /** Tells the other gateways that this one changed the site registry. */
  async announceSitesChanged(): Promise<void> {
    await this.opts.store.notify(SITES_CHANGED_CHANNEL, this.opts.origin);
  }

  private sitesChanged(): void {
    const reload = this.opts.onSitesChanged;
    if (reload) this.enqueue(reload);
  }

  private receive(payload: string): void {
    const wire = decodeOperationEvent(payload);
    if (!wire) {
      this.opts.log('WARNING', `ignoring a malformed operation event announcement: ${payload.slice(0, 200)}`);
      return;
    }
    this.enqueue(() => this.deliver(wire));
  }

  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain
      .then(work)
      .catch((err) =>
        this.opts.log('WARNING', `handling a notification from another gateway: ${(err as Error).message}`),
      );
  }

  private async deliver(wire: WireOperationEvent): Promise<void> {
    const { bus } = this.opts;
    // Older than what a catch-up already delivered.
    if (wire.sequence <= bus.lastDelivered(wire.operationId)) return;
    const key = `${wire.operationId}:${wire.sequence}`;
    let event = wire.origin === this.opts.origin ? this.own.get(key) : undefined;
    this.own.delete(key);
    if (!event) {
      const op = await this.opts.store.getOperation(wire.operationId);
      if (!op) return;
      const { origin: _, ...rest } = wire;
      event = { ...rest, operation: { ...op, sequence: wire.sequence, status: wire.status } };
    }
    this.track(event);
    bus.publish(event);
  }

  /** Remembers unfinished operations (forgotten once finished) for the catch-up. */
  private track(event: OperationEvent): void {
    if (event.kind === 'STATUS_CHANGED' && TERMINAL_STATUSES.includes(event.status)) {
      this.unfinished.delete(event.operationId);
    } else this.unfinished.add(event.operationId);
  }

  /**
   * Announcements sent while the connection was down are lost; for every operation that moved in
   * the meantime (known unfinished ones, active ones, ones created since), subscribers get its
   * current state with its latest sequence, so a progress subscription still sees the end of an
   * operation that finished meanwhile.
   */
  private async catchUp(droppedAt: Date): Promise<void> {
    const { store } = this.opts;
    this.own.clear();
    const ids = new Set([
      ...this.unfinished,
      ...(await store.listOperations({ active: true })).map((o) => o.id),
      // Operations created (and maybe finished) while the connection was down; a margin for clocks.
      ...(await store.listOperations({ since: new Date(droppedAt.getTime() - 60_000) })).map((o) => o.id),
    ]);
    for (const id of ids) {
      const op = await this.opts.store.getOperation(id);
      if (!op) continue;
      if (op.sequence <= this.opts.bus.lastDelivered(id)) continue;
      const event = snapshotEvent(
        op,
        `Current state: ${op.status.toLowerCase()} (events were missed while the gateway's event connection was down).`,
      );
      this.track(event);
      this.opts.bus.publish(event);
    }
  }
}
