/** Bounds of replication policy values and the drill network's CIDR, checked wherever they are given. */

/** Documented bounds of the replication policy's numbers. */
export const POLICY_BOUNDS = {
  /** How often the arrays replicate: 1 second to 1 day. */
  replicationIntervalSeconds: { min: 1, max: 86_400, unit: 'seconds' },
  /** The recovery point objective: 1 minute to 7 days. */
  rpoMinutes: { min: 1, max: 10_080, unit: 'minutes' },
} as const;

export type PolicyNumber = keyof typeof POLICY_BOUNDS;

/** What is wrong with a policy number (null when it is a whole number within its bounds). */
export function policyNumberProblem(field: PolicyNumber, value: unknown): string | null {
  const { min, max, unit } = POLICY_BOUNDS[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    return `${field} must be a whole number of ${unit} from ${min} to ${max}, got ${JSON.stringify(value)}`;
  return null;
}

/** Prefix lengths a drill network may have: room for the recovered VMs, and no larger than a /16. */
export const TEST_NETWORK_PREFIX = { min: 16, max: 29 } as const;

/**
 * Servers a drill network of this prefix holds: Neutron keeps its network and broadcast addresses, the
 * router's gateway address and the DHCP port's.
 */
export const testNetworkRoom = (prefix: number): number => 2 ** (32 - prefix) - 4;

/**
 * The drill network when the caller names none: 192.168.250.0/24, or the smallest network around
 * that address with room for `servers` (a /22 for 1000), at most a /16.
 */
export function defaultTestNetworkCidr(servers: number): string {
  let prefix = 24;
  while (prefix > TEST_NETWORK_PREFIX.min && testNetworkRoom(prefix) < servers) prefix--;
  const third = 250 - (250 % 2 ** Math.max(0, 24 - prefix));
  return `192.168.${third}.0/${prefix}`;
}

/**
 * What is wrong with `cidr` as the drill network of `servers` recovered servers: its form (see
 * {@link testNetworkCidrProblem}), or too little room.
 */
export function testNetworkProblem(cidr: string, servers: number): string | null {
  const problem = testNetworkCidrProblem(cidr);
  if (problem) return problem;
  const prefix = Number(cidr.split('/')[1]);
  if (testNetworkRoom(prefix) >= servers) return null;
  let needed = prefix;
  while (needed > TEST_NETWORK_PREFIX.min && testNetworkRoom(needed) < servers) needed--;
  return `'${cidr}' has room for ${testNetworkRoom(prefix)} servers but the drill recovers ${servers}; give a /${needed} or larger`;
}

/**
 * What is wrong with an IPv4 network in CIDR notation for a drill network (null when it is one):
 * four decimal octets 0-255, a prefix of 16-29, and no host bits set.
 */
export function testNetworkCidrProblem(cidr: string): string | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const example = 'e.g. 192.168.250.0/24';
  if (!m) return `'${cidr}' is not an IPv4 network in CIDR notation (${example})`;
  const octets = m.slice(1, 5).map((o) => (o.length > 1 && o.startsWith('0') ? Number.NaN : Number(o)));
  if (octets.some((o) => !(o >= 0 && o <= 255)))
    return `'${cidr}' has an octet that is not a number from 0 to 255 without leading zeros (${example})`;
  const prefix = Number(m[5]);
  if (prefix < TEST_NETWORK_PREFIX.min || prefix > TEST_NETWORK_PREFIX.max)
    return `'${cidr}' has prefix /${prefix}; a drill network needs /${TEST_NETWORK_PREFIX.min} to /${TEST_NETWORK_PREFIX.max}`;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    const network = address - (address % size);
    const text = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    return `'${cidr}' has host bits set; the network is ${text}/${prefix}`;
  }
  return null;
}
