// Hive Gateway's configuration for the bench: its defaults, plus what any gateway in front of
// Protector's sites needs: each site gets only its own Keystone token, read from the client's
// `X-Site-Token-<subgraph name>` header and sent as the site's `X-Auth-Token`.
// Used as: hive-gateway supergraph <supergraph.graphql> -c bench/peers/hive-gateway.config.mjs
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request, subgraphName }) {
      const token = request.headers.get(`x-site-token-${subgraphName}`);
      return token ? { 'x-auth-token': token } : {};
    },
  },
});
