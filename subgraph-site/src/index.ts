/** @protector/subgraph-site: one site's service (protector-site): config, data, cloud, storage steps, subgraph. */

export {
  type LoadSiteConfigInput,
  loadSiteConfig,
  renderSiteConfigReference,
  type SiteConfig,
} from './config/index.js';
export { createOpenStackClient, type OpenStackClient } from './openstack/index.js';
export { formatError, type RunningSite, SITE_VERSION, startSiteService } from './site/service.js';
