// A bare Apollo Gateway (@apollo/gateway with Apollo Server's standalone HTTP server), as its docs set
// one up: defaults everywhere, over a static supergraph SDL. The one addition is what any gateway in
// front of Protector's sites needs: each site gets only its own Keystone token, read from the client's
// `X-Site-Token-<subgraph name>` header and sent as the site's `X-Auth-Token`.
// Run: node bench/peers/apollo-gateway.mjs <supergraph.graphql> [port]   (prints "... ready at <url>")
import { readFileSync } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const [file, port = '0'] = process.argv.slice(2);
if (!file) {
  console.error('usage: apollo-gateway.mjs <supergraph.graphql> [port]');
  process.exit(2);
}

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(file, 'utf8'),
  buildService: ({ name, url }) =>
    new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request, context }) {
        const token = context.headers?.[`x-site-token-${name}`];
        if (token) request.http.headers.set('x-auth-token', token);
      },
    }),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: Number(port) },
  context: async ({ req }) => ({ headers: req.headers }),
});
console.log(`apollo-gateway ready at ${url}`);
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    server.stop().finally(() => process.exit(0));
  });
