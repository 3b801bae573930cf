/**
 * The gateway's GraphQL server: Apollo Gateway over the supergraph of the coordinator (in-process) and
 * the registered sites, per-site token forwarding, partial answers when a site is down, and
 * subscriptions over graphql-ws whose events can select fields of every subgraph.
 */
export {
  contextFromConnectionParams,
  contextFromHeaders,
  type GatewayContext,
  type HeaderSource,
  hasAnyToken,
  SITE_TOKEN_HEADER_PREFIX,
  tokenForSite,
} from './context.js';
export { ENTITY_REFETCH, type EntityRefetch } from './entity-refetch.js';
export { formatGatewayError } from './errors.js';
export {
  type GatewayExecutionResult,
  type GatewayLogLevel,
  type RunningGateway,
  type StartGatewayOptions,
  startGateway,
} from './gateway.js';
export { type GatewaySite, siteKeysOf } from './supergraph.js';
