/** Bounded concurrency for bulk work against arrays and clouds. */

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * A loader that batches: keys asked for before the next turn of the event loop are loaded together by
 * one call of `load` (which answers a map; a key it leaves out loads as `undefined`), and each key is
 * loaded once for the loader's life (one request's, typically).
 */
export function batchLoader<K, V>(
  load: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>,
): (key: K) => Promise<V | undefined> {
  const cache = new Map<K, Promise<V | undefined>>();
  let pending: { key: K; resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[] = [];
  const dispatch = () => {
    const batch = pending;
    pending = [];
    load(batch.map((b) => b.key)).then(
      (values) => {
        for (const b of batch) b.resolve(values.get(b.key));
      },
      (err: unknown) => {
        for (const b of batch) {
          cache.delete(b.key);
          b.reject(err);
        }
      },
    );
  };
  return (key) => {
    let found = cache.get(key);
    if (!found) {
      found = new Promise<V | undefined>((resolve, reject) => {
        if (pending.length === 0) setImmediate(dispatch);
        pending.push({ key, resolve, reject });
      });
      cache.set(key, found);
    }
    return found;
  };
}
