/** @protector/gateway: the coordinator gateway (protector-gateway). */
export { type GatewayConfig, loadGatewayConfig, renderGatewayConfigReference } from './config/index.js';
export { type RunningProtectorGateway, startProtectorGateway } from './main.js';
