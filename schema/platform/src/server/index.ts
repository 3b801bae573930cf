/** HTTP + WebSocket serving shared by the site service and the gateway. */
export {
  type GraphQLHttpServerOptions,
  type RouteHandler,
  type RunningHttpServer,
  readBody,
  sendJson,
  startGraphQLHttpServer,
} from './http-server.js';
export { runServiceMain, type ServiceMainOptions } from './service-main.js';
