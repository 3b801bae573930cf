/**
 * The Cinder host recovered array volumes are managed into (`[cinder] volume_host`, `host@backend#pool`),
 * checked against the site's cloud as Cinder's manage-existing will check it: a cinder-volume service on
 * `host@backend` (else Cinder refuses the manage with "Host '...' not found"), enabled and up, and the
 * pool among the scheduler's pools (else the managed volume ends in error_managing).
 */
import { errorJson, isProtectorError, type Json, ProtectorError } from '@protector/schema';
import type { OpenStackClient } from '../openstack/index.js';

const OPTION = '[cinder] volume_host';

/** How to find the right value, appended to every problem. */
const HOW_TO_FIX =
  "List the cloud's pools as an admin with `cinder get-pools` (GET /v3/{project_id}/scheduler-stats/get_pools) and the volume services with `openstack volume service list --service cinder-volume`, then set [cinder] volume_host in protector.conf to the FlashArray backend's pool (host@backend#pool) and restart protector-site.";

const problem = (message: string, retryable = false): Json => ({
  ...errorJson(new ProtectorError('CONFIG_INVALID', `${message} ${HOW_TO_FIX}`, { option: OPTION })),
  retryable,
});

/** The state of the configured Cinder host in the cloud, as `CinderBackendState`. */
export async function checkCinderBackend(cloud: OpenStackClient, host: string): Promise<Json> {
  const service = host.split('#')[0] ?? host;
  const result = (valid: boolean, error: Json | null, found: string | null = null): Json => ({
    host,
    service: found,
    valid,
    error,
  });
  let services: Awaited<ReturnType<OpenStackClient['listVolumeServices']>>;
  let pools: Awaited<ReturnType<OpenStackClient['listVolumePools']>>;
  try {
    services = await cloud.listVolumeServices({ binary: 'cinder-volume' });
    pools = await cloud.listVolumePools();
  } catch (err) {
    if (isProtectorError(err, 'FORBIDDEN')) {
      return result(
        false,
        errorJson(
          new ProtectorError(
            'FORBIDDEN',
            `The service user may not list Cinder's volume services and pools (an admin-only API), so ${OPTION} = '${host}' cannot be checked. Give the service user ([keystone_authtoken] username) the admin role in its project ([keystone_authtoken] project_name).`,
            { option: OPTION },
          ),
        ),
      );
    }
    return result(false, errorJson(err));
  }
  const volumeServices = services.filter((s) => s.binary === 'cinder-volume');
  const match = volumeServices.find((s) => s.host === service);
  if (!match) {
    const known = volumeServices.map((s) => s.host).join(', ') || 'none';
    return result(
      false,
      problem(
        `${OPTION} = '${host}': the cloud has no cinder-volume service '${service}' (it has: ${known}), so Cinder would refuse to manage recovered volumes ("Host '${host}' not found").`,
      ),
    );
  }
  if (match.status !== 'enabled' || match.state !== 'up') {
    return result(
      false,
      problem(
        `${OPTION} = '${host}': Cinder's volume service '${service}' is ${match.status} and ${match.state}${match.disabled_reason ? ` (${match.disabled_reason})` : ''}, so Cinder would refuse to manage recovered volumes there. Start or enable it (openstack volume service set --enable ${service} cinder-volume), or point ${OPTION} at a running backend.`,
        match.state !== 'up',
      ),
      service,
    );
  }
  if (!pools.some((p) => p.name === host)) {
    const ofService = pools.filter((p) => p.name.startsWith(`${service}#`)).map((p) => p.name);
    return result(
      false,
      problem(
        `${OPTION} = '${host}': Cinder's volume service '${service}' has no pool '${host.slice(service.length + 1)}' (its pools: ${ofService.join(', ') || 'none reported'}), so recovered volumes would end in error_managing.`,
      ),
      service,
    );
  }
  return result(true, null, service);
}
