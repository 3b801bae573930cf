/**
 * Saved operations of the playground: a whole DR drill, one GraphiQL tab per step, written against the
 * coordinator API (pure code: the Vite bundle imports it too). The tests validate every one of them
 * against the composed supergraph's API schema.
 */

/** One saved tab (GraphiQL's `TabDefinition`). */
export interface ExampleTab {
  /** Operation name: GraphiQL shows it as the tab title. */
  readonly name: string;
  readonly query: string;
  /** JSON text of the variables editor. */
  readonly variables?: string;
  /** JSON(C) text of the headers editor. */
  readonly headers?: string;
}

export interface ExampleOptions {
  /** Site keys (the supergraph's per-site fields), e.g. `['boston', 'seattle']`. */
  readonly siteKeys: readonly string[];
  /** Group the examples act on. @default 'prod-web-app' */
  readonly protectionGroup?: string;
  /** Text of every tab's headers editor (see `headersEditorText`). */
  readonly headers?: string;
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

/** Selection of one site's replica, indented for a field at `indent` spaces. */
const replicaFields = (siteKeys: readonly string[], indent: string): string =>
  siteKeys
    .map(
      (key) =>
        `${indent}${key} {\n${indent}  role\n${indent}  status\n${indent}  syncStatus\n${indent}  metadataVersion\n${indent}}`,
    )
    .join('\n');

/**
 * The saved operations of a DR drill, in the order an operator runs them: sites and health, groups with
 * each site's replica, create a group, add a member, set the replication policy, test failover, follow its
 * progress, clean the test up, planned failover, failback, operations list.
 */
export function exampleTabs(opts: ExampleOptions): ExampleTab[] {
  const pg = opts.protectionGroup ?? 'prod-web-app';
  const [primary = 'site-a', secondary = 'site-b'] = opts.siteKeys;
  const replicas = opts.siteKeys.length
    ? `\n      # One field per site key: that site's own copy of the group.\n${replicaFields(opts.siteKeys, '      ')}`
    : `\n      # Each site's copy of the group (no site key known to the playground).
      replicas {
        site {
          name
        }
        role
        reachable
        replica {
          status
          metadataVersion
        }
      }`;
  const operationFields = `id
    type
    status
    percentComplete
    stepsTotal
    sourceSite {
      name
    }
    targetSite {
      name
    }
    protectionGroup {
      name
      status
    }`;
  const tabs: Omit<ExampleTab, 'headers'>[] = [
    {
      name: 'SitesAndHealth',
      query: `# 1. The registered sites and their health: reachability, replication link, RPO, failover readiness.
query SitesAndHealth {
  sites {
    name
    key
    role
    status
    version
    storageDriver
    health {
      reachable
      checkedAt
      latencyMs
      storageReachable
      replicationLinkState
      maxReplicationLagSeconds
      rpoCompliance
      failoverReadiness
      issues {
        code
        severity
        message
      }
    }
  }
}
`,
    },
    {
      name: 'ProtectionGroups',
      query: `# 2. Protection Groups with the replica each site holds (metadataVersion is equal when in sync).
query ProtectionGroups($first: Int = 50) {
  protectionGroups(first: $first) {
    totalCount
    nodes {
      id
      name
      status
      syncStatus
      replicationType
      metadataVersion
      currentPrimarySite {
        name
      }
      secondarySite {
        name
      }
      health {
        replicationLagSeconds
        rpoMinutes
        rpoCompliance
        failoverReadiness
      }
      members {
        name
        status
      }
      activeOperation {
        id
        type
        status
        percentComplete
      }${replicas}
    }
  }
}
`,
    },
    {
      name: 'CreateProtectionGroup',
      query: `# 3. Create a group on both sites (primarySite / secondarySite are site names, see SitesAndHealth).
mutation CreateProtectionGroup($input: CreateProtectionGroupInput!) {
  createProtectionGroup(input: $input) {
    id
    name
    status
    replicationType
    volumeType
    metadataVersion
    currentPrimarySite {
      name
    }
    secondarySite {
      name
    }
  }
}
`,
      variables: json({
        input: {
          name: pg,
          description: 'Web tier of the production app',
          replicationType: 'ASYNC',
          primarySite: primary,
          secondarySite: secondary,
          volumeType: 'replicated-ssd',
        },
      }),
    },
    {
      name: 'AddMember',
      query: `# 4. Protect a VM: server is a Nova server id or name on the primary site.
mutation AddMember($input: AddMemberInput!) {
  addMember(input: $input) {
    name
    metadataVersion
    members {
      id
      name
      status
      volumes {
        name
        sizeGb
        volumeType
        bootable
      }
    }
  }
}
`,
      variables: json({ input: { protectionGroup: pg, server: 'web-01' } }),
    },
    {
      name: 'CreateReplicationPolicy',
      query: `# 5. Replication policy (the product documentation's policy-create). Array tokens are write-only.
mutation CreateReplicationPolicy($input: CreateReplicationPolicyInput!) {
  createReplicationPolicy(input: $input) {
    name
    metadataVersion
    policy {
      primaryArrayUrl
      secondaryArrayUrl
      primaryArrayTokenSet
      secondaryArrayTokenSet
      purePgName
      replicationIntervalSeconds
      rpoMinutes
    }
  }
}
`,
      variables: json({
        input: {
          protectionGroup: pg,
          policy: {
            primaryArrayUrl: `https://flasharray-${primary}.example.com`,
            primaryArrayToken: 'primary-array-api-token',
            secondaryArrayUrl: `https://flasharray-${secondary}.example.com`,
            secondaryArrayToken: 'secondary-array-api-token',
            purePgName: `pg-${pg}`,
            replicationIntervalSeconds: 300,
            rpoMinutes: 15,
          },
        },
      }),
    },
    {
      name: 'RecoveryPoints',
      query: `# 6. Replicated recovery points of the group on its secondary site, newest first.
query RecoveryPoints($protectionGroup: ID!) {
  recoveryPoints(protectionGroup: $protectionGroup) {
    name
    createdAt
    completedAt
    progress
    complete
  }
}
`,
      variables: json({ protectionGroup: pg }),
    },
    {
      name: 'TestFailover',
      query: `# 7. DR drill: recover the group on the secondary site on an isolated network.
# Copy the returned id into OperationProgress to follow it.
mutation TestFailover($input: TestFailoverInput!) {
  testFailover(input: $input) {
    ${operationFields}
  }
}
`,
      variables: json({ input: { protectionGroup: pg, testNetworkCidr: '192.168.250.0/24' } }),
    },
    {
      name: 'OperationProgress',
      query: `# 8. Progress of an operation (subscription over graphql-ws) until it finishes.
subscription OperationProgress($id: ID!) {
  operationProgress(id: $id) {
    sequence
    kind
    occurredAt
    status
    percentComplete
    step {
      name
      status
      site {
        name
      }
    }
    member {
      memberName
      status
    }
    message
  }
}
`,
      variables: json({ id: 'paste-the-operation-id-here' }),
    },
    {
      name: 'TestCleanup',
      query: `# 9. Delete everything the test failover created; replication was never touched.
mutation TestCleanup($input: TestCleanupInput!) {
  testCleanup(input: $input) {
    ${operationFields}
  }
}
`,
      variables: json({ input: { protectionGroup: pg, force: false } }),
    },
    {
      name: 'PlannedFailover',
      query: `# 10. Planned failover to the secondary site (both sites up, zero data loss).
mutation PlannedFailover($input: FailoverInput!) {
  failover(input: $input) {
    ${operationFields}
  }
}
`,
      variables: json({ input: { protectionGroup: pg, type: 'PLANNED' } }),
    },
    {
      name: 'Failback',
      query: `# 11. Reprotect (reverse replication), then recover the group on its original site.
mutation Failback($input: FailbackInput!) {
  failback(input: $input) {
    ${operationFields}
  }
}
`,
      variables: json({ input: { protectionGroup: pg, forceSync: false } }),
    },
    {
      name: 'Operations',
      query: `# 12. The group's operations, newest first, with the failing step when one failed.
query Operations($filter: OperationFilterInput, $first: Int = 20) {
  operations(filter: $filter, first: $first) {
    totalCount
    nodes {
      id
      type
      status
      percentComplete
      stepsCompleted
      stepsFailed
      stepsTotal
      createdAt
      finishedAt
      requestedBy
      currentStep {
        name
        status
      }
      error {
        code
        message
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
`,
      variables: json({ filter: { protectionGroup: pg } }),
    },
    {
      name: 'SiteHealth',
      query: `# 13. Health changes of the sites as they happen (subscription).
subscription SiteHealth {
  siteHealth {
    occurredAt
    status
    previousStatus
    site {
      name
    }
    health {
      reachable
      replicationLinkState
      rpoCompliance
      failoverReadiness
    }
  }
}
`,
    },
  ];
  return tabs.map((tab) => (opts.headers === undefined ? tab : { ...tab, headers: opts.headers }));
}
