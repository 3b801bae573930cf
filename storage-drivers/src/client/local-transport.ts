/** The mock driver's transport: requests go straight to the SQLite model in this process. */
import type { FlashArrayStore } from '../array/store.js';
import { type ArrayTransport, ArrayUnreachableError } from './array-client.js';
import type { ArrayRequest, ArrayResponse } from './wire.js';

export class LocalArrayTransport implements ArrayTransport {
  readonly endpoint: string;

  constructor(
    private readonly store: FlashArrayStore,
    private readonly array: string,
  ) {
    this.endpoint = `mock://${array}`;
  }

  async send(req: ArrayRequest): Promise<ArrayResponse> {
    if (this.store.faults(this.array).down) {
      throw new ArrayUnreachableError(`connect ECONNREFUSED (array '${this.array}' is down)`, true);
    }
    // Answer asynchronously, as a remote array would, so callers never depend on synchronous completion.
    await Promise.resolve();
    return this.store.handle(this.array, req);
  }

  async close(): Promise<void> {}
}
