/** Prometheus text metrics of a service: request and error counts by operation, step outcomes. */
import type { ApolloServerPlugin } from '@apollo/server';

export class Metrics {
  private readonly counters = new Map<string, number>();

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = `${name}${labelText(labels)}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  render(): string {
    const lines = [
      '# TYPE process_uptime_seconds gauge',
      `process_uptime_seconds ${process.uptime().toFixed(1)}`,
    ];
    lines.push(
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${process.memoryUsage().rss}`,
    );
    const names = new Set([...this.counters.keys()].map((k) => k.replace(/\{.*$/, '')));
    for (const name of [...names].sort()) {
      lines.push(`# TYPE ${name} counter`);
      for (const [key, value] of this.counters)
        if (key.replace(/\{.*$/, '') === name) lines.push(`${key} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }

  /**
   * Counts GraphQL operations and errors by operation type (query, mutation, subscription, or
   * `invalid` for a document that did not validate). No label takes a value a client chooses (such as
   * an operation name), so a client cannot grow the metrics without bound.
   */
  apolloPlugin(): ApolloServerPlugin {
    return {
      requestDidStart: async () => ({
        willSendResponse: async ({ operation, errors }) => {
          const type = operation?.operation ?? 'invalid';
          this.inc('protector_graphql_requests_total', { type });
          if (errors?.length) this.inc('protector_graphql_errors_total', { type });
        },
      }),
    };
  }
}

const labelText = (labels: Record<string, string>) => {
  const entries = Object.entries(labels);
  if (!entries.length) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',')}}`;
};
