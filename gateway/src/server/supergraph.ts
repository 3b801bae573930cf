/**
 * Where the gateway's supergraph comes from: composed from the coordinator SDL and the registered
 * site keys (`composeSupergraph`, no introspection, so a site that is down does not stop composition),
 * or read from a static file in production. `recompose()` swaps it in the running gateway.
 */
import { readFile } from 'node:fs/promises';
import type { SupergraphSdlHook } from '@apollo/gateway';
import { composeSupergraph } from '@protector/platform';
import { COORDINATOR_SUBGRAPH_NAME } from '@protector/schema';

/** A site as the registry knows it. */
export interface GatewaySite {
  readonly name: string;
  /** GraphQL-safe key: the site's subgraph name, root field and replica field. */
  readonly key: string;
  /** GraphQL endpoint of the site service. */
  readonly url: string;
}

/** Routing URL written for the in-process coordinator (never fetched). */
export const COORDINATOR_URL = 'in-process://coordinator';

/** Options of {@link createSupergraphSource}. */
export interface SupergraphSourceOptions {
  sites(): readonly GatewaySite[];
  /** Static supergraph SDL file; when set, it is read instead of composing. */
  readonly supergraphFile?: string;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

/** The supergraph source handed to `ApolloGateway({ supergraphSdl })`, plus `recompose()`. */
export interface SupergraphSource {
  readonly hook: SupergraphSdlHook;
  /** Recomposes (or re-reads the file) and swaps the gateway's schema; throws when it does not compose. */
  recompose(): Promise<void>;
  /** Site keys of the supergraph now. */
  siteKeys(): readonly string[];
}

/** Subgraph names of a supergraph other than the coordinator: the site keys. */
export function siteKeysOf(supergraphSdl: string): string[] {
  const names = [...supergraphSdl.matchAll(/@join__graph\(\s*name:\s*"([^"]+)"/g)].map((m) => m[1]!);
  return names.filter((name) => name !== COORDINATOR_SUBGRAPH_NAME);
}

export function createSupergraphSource(opts: SupergraphSourceOptions): SupergraphSource {
  let update: ((sdl: string) => void) | null = null;
  let keys: readonly string[] = [];

  const load = async (): Promise<string> => {
    if (opts.supergraphFile) {
      const sdl = await readFile(opts.supergraphFile, 'utf8');
      opts.log('info', `supergraph read from ${opts.supergraphFile}: sites [${siteKeysOf(sdl).join(', ')}]`);
      return sdl;
    }
    const sites = opts.sites();
    const urls: Record<string, string> = { [COORDINATOR_SUBGRAPH_NAME]: COORDINATOR_URL };
    for (const site of sites) urls[site.key] = site.url;
    const composed = composeSupergraph(
      sites.map((s) => s.key),
      { urls },
    );
    for (const hint of composed.hints) opts.log('debug', `composition hint: ${hint}`);
    opts.log('info', `supergraph composed: coordinator + sites [${sites.map((s) => s.key).join(', ')}]`);
    return composed.supergraphSdl;
  };

  return {
    hook: async ({ update: u }) => {
      update = u;
      const supergraphSdl = await load();
      keys = siteKeysOf(supergraphSdl);
      return {
        supergraphSdl,
        cleanup: async () => {
          update = null;
        },
      };
    },
    async recompose() {
      if (!update) throw new Error('The gateway has not loaded its supergraph yet (or has stopped).');
      const supergraphSdl = await load();
      update(supergraphSdl);
      keys = siteKeysOf(supergraphSdl);
    },
    siteKeys: () => keys,
  };
}
