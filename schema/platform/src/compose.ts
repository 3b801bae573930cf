import { composeServices } from '@apollo/composition';
import {
  assertSiteKey,
  COORDINATOR_SUBGRAPH_NAME,
  coordinatorSubgraphSdl,
  ProtectorError,
  siteSubgraphSdl,
} from '@protector/schema';
import { parse } from 'graphql';

/** Options of {@link composeSupergraph}. */
export interface ComposeSupergraphOptions {
  /**
   * Routing URL per subgraph name (`coordinator` or a site key), written into the supergraph's
   * `join__Graph` so a gateway can use it; omitted subgraphs get no URL.
   * @default {}
   */
  readonly urls?: Readonly<Record<string, string>>;
}

/** The composed supergraph. */
export interface ComposedSupergraph {
  /** Supergraph SDL for `@apollo/gateway` (`supergraphSdl`). */
  readonly supergraphSdl: string;
  /** Composition hints (not errors), one line each. */
  readonly hints: readonly string[];
}

/**
 * Composes the supergraph from the coordinator SDL and one generated SDL per site key, with
 * `composeServices` of `@apollo/composition`. The gateway calls it at start-up and on site registration,
 * so a site that is down does not need to be introspected.
 * @throws ProtectorError BAD_USER_INPUT for a malformed, reserved or repeated site key;
 *   INTERNAL (with `details.compositionErrors`) when composition fails.
 */
export function composeSupergraph(
  siteKeys: readonly string[],
  options: ComposeSupergraphOptions = {},
): ComposedSupergraph {
  const seen = new Set<string>();
  for (const key of siteKeys) {
    assertSiteKey(key);
    if (seen.has(key)) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `Site key "${key}" is given twice; every site needs its own key`,
        {
          siteKey: key,
        },
      );
    }
    seen.add(key);
  }
  const urls = options.urls ?? {};
  const subgraph = (name: string, sdl: string) => ({ name, typeDefs: parse(sdl), url: urls[name] });
  const result = composeServices([
    subgraph(COORDINATOR_SUBGRAPH_NAME, coordinatorSubgraphSdl),
    ...siteKeys.map((key) => subgraph(key, siteSubgraphSdl(key))),
  ]);
  if (result.errors) {
    const compositionErrors = result.errors.map((error) => {
      const code = error.extensions['code'];
      return typeof code === 'string' ? `[${code}] ${error.message}` : error.message;
    });
    throw new ProtectorError(
      'INTERNAL',
      `The supergraph of coordinator + sites [${siteKeys.join(', ')}] does not compose:\n- ${compositionErrors.join('\n- ')}`,
      { compositionErrors },
    );
  }
  return {
    supergraphSdl: result.supergraphSdl,
    hints: result.hints.map((hint) => `[${hint.definition.code}] ${hint.message}`),
  };
}
