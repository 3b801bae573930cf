/**
 * The command line of a Protector service binary (`protector-site`, `protector-gateway`):
 * `--config FILE [--check-config]`, start-up errors with their code, clean stop on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { isProtectorError } from '@protector/schema';

export interface ServiceMainOptions<C> {
  /** Binary name, e.g. `protector-site`. */
  readonly name: string;
  /** Config file used without --config. */
  readonly defaultConfig: string;
  /** Environment variable naming the config file. */
  readonly configEnv: string;
  load(path: string): C;
  /** The config with secrets hidden, for --check-config. */
  redact(config: C): unknown;
  start(config: C): Promise<{ readonly url: string; stop(): Promise<void> }>;
  /** Printed once started, e.g. `protector-site boston ready at <url>`. */
  readyLine(config: C, url: string): string;
}

/** Runs the service until a signal; exits the process with 0, 1 (start-up failed) or 2 (bad arguments). */
export async function runServiceMain<C>(o: ServiceMainOptions<C>): Promise<never> {
  const usage = `usage: ${o.name} --config ${o.defaultConfig} [--check-config]`;
  const exit = (code: number, text?: string): never => {
    if (text) process.stderr.write(`${text}\n`);
    process.exit(code);
  };
  let values: { config?: string; 'check-config'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { config: { type: 'string' }, 'check-config': { type: 'boolean' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    return exit(2, `${o.name}: ${(err as Error).message}\n${usage}`);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return exit(0);
  }
  // Files the service creates (state, keys, logs) are never world-readable: 0640 at most, and 0600
  // where they hold secrets or tenants' data (databases, key files).
  process.umask(0o027);
  const path = values.config ?? process.env[o.configEnv] ?? o.defaultConfig;
  try {
    const config = o.load(path);
    if (values['check-config']) {
      process.stdout.write(`${path}: configuration is valid\n${JSON.stringify(o.redact(config), null, 2)}\n`);
      return exit(0);
    }
    const service = await o.start(config);
    process.stdout.write(`${o.readyLine(config, service.url)}\n`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`${new Date().toISOString()} INFO ${o.name} [-] received ${signal}, stopping\n`);
        void service.stop().then(resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    return exit(0);
  } catch (err) {
    if (isProtectorError(err)) {
      const problems = (err.details as { problems?: unknown }).problems;
      const list =
        Array.isArray(problems) && !err.message.includes('\n')
          ? problems
              .map(
                (p) =>
                  `\n  - ${typeof p === 'string' ? p : ((p as { message?: string }).message ?? JSON.stringify(p))}`,
              )
              .join('')
          : '';
      return exit(1, `${o.name}: ${err.code}: ${err.message}${list}`);
    }
    return exit(1, `${o.name}: ${(err as Error)?.stack ?? String(err)}`);
  }
}
