// The GraphQL documents the benches send, and how to tell what an answer held.
//
// - site-only: one page of each site's replicas, site fields only (Query.boston, Query.seattle). Every
//   gateway answers it from the two site subgraphs alone, so our gateway, a bare Apollo Gateway and Hive
//   Gateway all run the same plan: one fetch per site, in parallel.
// - full (our gateway): `protectionGroups`, the coordinator's list of groups across both sites, with
//   every group's members and both sites' replicas with their members: what `protector pg list`, the
//   playground's ProtectionGroups tab and a dashboard read. The coordinator lists each site's replicas,
//   then the planner fetches each group's `boston` and `seattle` replica fields from the sites.
// - replicas+peer: the closest equivalent over the site subgraphs alone (no coordinator): boston's
//   replicas with members, and for each the seattle replica with members, reached through the
//   ProtectionGroup entity (`_entities` at seattle). Every gateway answers it.
// Site floor (one site, straight at its subgraph URL, with its own token):
// - site-only@site: the boston half of site-only;
// - list@site: one page of replicas with members (what the coordinator and replicas+peer ask first);
// - entities@site: `_entities` for one page of groups, the second fetch of replicas+peer and full.

const MEMBER_FIELDS = 'id name status bootPriority volumes { id name sizeGb storageVolumeName }';
const REPLICA_FIELDS = 'id name status role metadataVersion lastReplicationAt';

export const SITE_ONLY = `query SiteOnly($first: Int!) {
  boston { protectionGroupReplicas(first: $first) { totalCount nodes { ${REPLICA_FIELDS} } } }
  seattle { protectionGroupReplicas(first: $first) { totalCount nodes { ${REPLICA_FIELDS} } } }
}`;

export const FULL = `query FullList($first: Int!) {
  protectionGroups(first: $first) {
    totalCount
    nodes {
      id name status syncStatus metadataVersion
      members { ${MEMBER_FIELDS} }
      boston { metadataVersion status members { ${MEMBER_FIELDS} } }
      seattle { metadataVersion status members { ${MEMBER_FIELDS} } }
    }
  }
}`;

export const REPLICAS_PEER = `query ReplicasWithPeer($first: Int!) {
  boston {
    protectionGroupReplicas(first: $first) {
      totalCount
      nodes {
        ${REPLICA_FIELDS}
        members { ${MEMBER_FIELDS} }
        protectionGroup { id seattle { metadataVersion status members { ${MEMBER_FIELDS} } } }
      }
    }
  }
}`;

export const SITE_ONLY_AT_SITE = `query SiteOnlyHere($first: Int!) {
  boston { protectionGroupReplicas(first: $first) { totalCount nodes { ${REPLICA_FIELDS} } } }
}`;

export const LIST_AT_SITE = `query ListHere($first: Int!) {
  boston { protectionGroupReplicas(first: $first) { totalCount nodes { ${REPLICA_FIELDS} members { ${MEMBER_FIELDS} } } } }
}`;

export const ENTITIES_AT_SITE = `query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on ProtectionGroup { id boston { metadataVersion status members { ${MEMBER_FIELDS} } } }
  }
}`;

const count = (list) => (Array.isArray(list) ? list.length : 0);
const sum = (list, f) => (Array.isArray(list) ? list.reduce((a, x) => a + f(x), 0) : 0);

/** What an answer held: groups (per site side) and members, to show every target answered alike. */
export const summarize = {
  siteOnly: (j) => ({
    groups:
      count(j.data?.boston?.protectionGroupReplicas?.nodes) +
      count(j.data?.seattle?.protectionGroupReplicas?.nodes),
    totalCount: j.data?.boston?.protectionGroupReplicas?.totalCount ?? null,
  }),
  full: (j) => {
    const nodes = j.data?.protectionGroups?.nodes ?? [];
    return {
      groups: nodes.length,
      totalCount: j.data?.protectionGroups?.totalCount ?? null,
      members: sum(nodes, (n) => count(n.boston?.members) + count(n.seattle?.members)),
    };
  },
  replicasPeer: (j) => {
    const nodes = j.data?.boston?.protectionGroupReplicas?.nodes ?? [];
    return {
      groups: nodes.length,
      totalCount: j.data?.boston?.protectionGroupReplicas?.totalCount ?? null,
      members: sum(nodes, (n) => count(n.members) + count(n.protectionGroup?.seattle?.members)),
    };
  },
  siteOnlyAtSite: (j) => ({
    groups: count(j.data?.boston?.protectionGroupReplicas?.nodes),
    totalCount: j.data?.boston?.protectionGroupReplicas?.totalCount ?? null,
  }),
  listAtSite: (j) => {
    const nodes = j.data?.boston?.protectionGroupReplicas?.nodes ?? [];
    return {
      groups: nodes.length,
      totalCount: j.data?.boston?.protectionGroupReplicas?.totalCount ?? null,
      members: sum(nodes, (n) => count(n.members)),
    };
  },
  entitiesAtSite: (j) => {
    const nodes = j.data?._entities ?? [];
    return { groups: nodes.length, members: sum(nodes, (n) => count(n?.boston?.members)) };
  },
};
