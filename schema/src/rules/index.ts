/** Rules that several packages apply: one module per rule, imported everywhere it is checked. */
export {
  flashArrayNameProblem,
  MAX_VOLUME_BYTES,
  SECTOR_BYTES,
  sizeProblem,
  suffixProblem,
  volumeNameProblem,
} from './flasharray.js';
export {
  HEALTH_ISSUE_CODES,
  type HealthIssue,
  type HealthIssueCode,
  type HealthIssueDefinition,
  healthIssue,
  renderHealthIssueDocs,
  rpoCompliance,
} from './health.js';
export { protectionGroupNameProblem, siteNameProblem } from './names.js';
export {
  defaultTestNetworkCidr,
  POLICY_BOUNDS,
  type PolicyNumber,
  policyNumberProblem,
  TEST_NETWORK_PREFIX,
  testNetworkCidrProblem,
  testNetworkProblem,
  testNetworkRoom,
} from './policy.js';
export { isSecretKey, redactSecrets } from './secrets.js';
export { defaultStorageGroupName } from './storage-group.js';
export { arrayUrlProblem, redactUrlPassword, urlProblem } from './urls.js';
