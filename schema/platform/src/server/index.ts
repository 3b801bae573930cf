/** HTTP + WebSocket serving shared by the site service and the gateway. */
export {
  type GraphQLHttpServerOptions,
  type RouteHandler,
  type RunningHttpServer,
  readBody,
  sendError,
  sendJson,
  startGraphQLHttpServer,
} from './http-server.js';
export {
  checkIntrospection,
  DEFAULT_QUERY_LIMITS,
  type IntrospectionPolicy,
  introspectionGuard,
  isIntrospection,
  maskInternalError,
  parseLimits,
  type QueryLimits,
  queryLimitOptions,
  queryLimitRules,
  queryLimitsOf,
  sanitizeClientError,
  withoutEchoedValues,
} from './limits.js';
export { callerKey, type RateLimit, RateLimiter, rateLimitOf, rateLimitOptions } from './rate-limit.js';
export { runServiceMain, type ServiceMainOptions } from './service-main.js';
