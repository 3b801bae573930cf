/**
 * The site-local steps the coordinator calls (service role only). Each runs once per
 * (operationId, stepKey): a repeat returns the recorded result; a step interrupted by a crash runs
 * again, and every step is written so that running it again is safe (it finds what it made before).
 * One module per family under `steps/`; this one puts them together, one function per site step.
 */
import type { SiteStepName } from '@protector/schema';
import type { SiteContext } from './context.js';
import { createStepKit } from './steps/kit.js';
import { metadataSteps } from './steps/metadata.js';
import { recoverySteps } from './steps/recovery.js';
import { serverSteps } from './steps/servers.js';
import { storageSteps } from './steps/storage.js';
import { testNetworkSteps } from './steps/test-network.js';

export {
  networkJson,
  type StepKey,
  sizeBytes,
  TAG,
  tenantMappingJson,
} from './steps/kit.js';

export function createSiteSteps(ctx: SiteContext) {
  const kit = createStepKit(ctx);
  return {
    ...metadataSteps(kit),
    ...storageSteps(kit),
    ...serverSteps(kit),
    ...recoverySteps(kit),
    ...testNetworkSteps(kit),
  } satisfies Record<SiteStepName, unknown>;
}

export type SiteSteps = ReturnType<typeof createSiteSteps>;
