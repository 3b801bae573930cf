/** @protector/subgraph-site: one site's service (protector-site): config, data, cloud, storage steps, subgraph. */

export { createSimulatedCloud, type SimulatedCloud } from './cloud-sim/index.js';
export {
  type LoadSiteConfigInput,
  loadSiteConfig,
  renderSiteConfigReference,
  type SiteConfig,
} from './config/index.js';
export { createOpenStackClient, type OpenStackClient } from './openstack/index.js';
export { formatError, type RunningSite, SITE_VERSION, startSiteService } from './site/service.js';
