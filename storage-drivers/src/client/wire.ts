/**
 * A FlashArray REST 2.x exchange as the drivers send it: one request below `/api/2.x` and its
 * response. Owned by the client; the array models (mock, fa-sim) answer in the same shape.
 */
export interface ArrayRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path below `/api/2.x`, e.g. `/volumes`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
}

export interface ArrayResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}
