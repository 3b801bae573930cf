/**
 * A throwaway gateway for the SDK and CLI tests: the public API schema (see contract-schema.ts) served
 * over node:http and graphql-ws on 127.0.0.1, port 0, with in-memory data and scripted operations.
 * It records what it received (headers, variables, connection params) so tests can assert on them.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from '@protector/schema';
import { execute, GraphQLError, type GraphQLSchema, graphql, subscribe, validate } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { buildContractSchema } from './contract-schema.js';

/** One HTTP request as the fake received it. */
export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly operationName: string | undefined;
  readonly variables: Json;
}

/** How a scripted operation ends. */
export interface OperationScript {
  readonly outcome: 'SUCCEEDED' | 'FAILED';
  readonly steps: readonly string[];
}

export interface FakeGateway {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  readonly connectionParams: unknown[];
  /** Scripts of the operations the DR mutations start, by group name. */
  readonly scripts: Map<string, OperationScript>;
  stop(): Promise<void>;
}

const NOW = '2025-01-31T12:00:00.000Z';

const site = (name: string, key: string) => ({
  name,
  key,
  description: `Site ${key}`,
  url: `https://protector.${key}.example.com:8788/graphql`,
  authUrl: `https://keystone.${key}.example.com:5000/v3`,
  status: 'ACTIVE',
  role: 'MIXED',
  version: '0.1.0',
  storageDriver: 'MOCK',
  registeredAt: NOW,
  health: {
    reachable: true,
    checkedAt: NOW,
    latencyMs: 3,
    storageReachable: true,
    replicationLinkState: 'CONNECTED',
    maxReplicationLagSeconds: 120,
    rpoCompliance: 'COMPLIANT',
    failoverReadiness: 'READY',
    protectionGroups: [],
    issues: [],
  },
});

const fail = (code: string, message: string) => new GraphQLError(message, { extensions: { code } });

/** Starts the fake gateway. */
export async function startFakeGateway(): Promise<FakeGateway> {
  const schema: GraphQLSchema = buildContractSchema(['boston', 'seattle']);
  const requests: ReceivedRequest[] = [];
  const connectionParams: unknown[] = [];
  const scripts = new Map<string, OperationScript>();
  const sites = [site('site-a', 'boston'), site('site-b', 'seattle')];
  const groups = new Map<string, Json>();
  const operations = new Map<string, Json>();
  let nextOperation = 1;

  const addGroup = (id: string, name: string): void => {
    groups.set(id, {
      id,
      name,
      description: null,
      projectId: 'project-1',
      replicationType: 'ASYNC',
      status: 'ACTIVE',
      syncStatus: 'IN_SYNC',
      currentPrimarySite: sites[0],
      secondarySite: sites[1],
      metadataVersion: 3,
      lastSyncedAt: NOW,
      lastReplicationAt: NOW,
      volumeType: 'replicated-ssd',
      storageGroupName: null,
      policy: null,
      members: [],
      resourceMappings: [],
      activeOperation: null,
      createdAt: NOW,
      updatedAt: NOW,
      replicas: [],
      boston: { name, metadataVersion: 3 },
      // The secondary site is down in this lab: its replica field fails, as a federated fetch would.
      seattle: () => {
        throw fail('PEER_SITE_UNREACHABLE', "Site 'site-b' (seattle) did not answer: connect ECONNREFUSED");
      },
    });
  };
  addGroup('pg-0001', 'prod-web-app');
  addGroup('pg-0002', 'db-cluster-pg');

  const findGroup = (ref: unknown): Json => {
    const group = groups.get(String(ref)) ?? [...groups.values()].find((g) => g['name'] === ref);
    if (!group) throw fail('NOT_FOUND', `Protection Group '${String(ref)}' does not exist`);
    return group;
  };

  const startOperation = (type: string, groupRef: unknown): Json => {
    const group = findGroup(groupRef);
    const script = scripts.get(String(group['name'])) ?? {
      outcome: 'SUCCEEDED',
      steps: ['prepare', 'finish'],
    };
    const id = `op-${nextOperation++}`;
    const steps = script.steps.map((name, index) => ({
      key: `${index + 1}-${name}`,
      name,
      site: sites[1],
      status: 'PENDING',
      attempt: 1,
      startedAt: null,
      finishedAt: null,
      error: null,
    }));
    const operation: Json = {
      id,
      type,
      status: 'RUNNING',
      protectionGroup: group,
      sourceSite: sites[0],
      targetSite: sites[1],
      recoveryPoint: null,
      percentComplete: 0,
      currentStep: null,
      steps,
      stepsCompleted: 0,
      stepsFailed: 0,
      stepsTotal: steps.length,
      members: [],
      error: null,
      requestedBy: 'admin',
      createdAt: NOW,
      startedAt: NOW,
      finishedAt: null,
      script,
    };
    operations.set(id, operation);
    return operation;
  };

  /** Runs an operation's script as the subscriber watches: one STEP_FINISHED per step, then the outcome. */
  async function* runScript(operation: Json): AsyncGenerator<Json> {
    // A finished operation has no more events: the stream just completes.
    if (['SUCCEEDED', 'FAILED'].includes(String(operation['status']))) return;
    const script = operation['script'] as OperationScript;
    const steps = operation['steps'] as Json[];
    let sequence = 0;
    const event = (kind: string, step: Json | null, message: string | null) => ({
      operationProgress: {
        sequence: ++sequence,
        kind,
        occurredAt: NOW,
        operation,
        status: operation['status'],
        percentComplete: operation['percentComplete'],
        step,
        member: null,
        message,
      },
    });
    for (const [index, step] of steps.entries()) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const last = index === steps.length - 1;
      if (last && script.outcome === 'FAILED') {
        const error = {
          code: 'STORAGE_ERROR',
          message: `Step ${String(step['name'])} failed on site-b: array volume copy refused`,
          retryable: true,
        };
        Object.assign(step, { status: 'FAILED', error });
        Object.assign(operation, {
          status: 'FAILED',
          error,
          stepsFailed: 1,
          currentStep: step,
          finishedAt: NOW,
        });
        yield event('STEP_FINISHED', step, null);
        return;
      }
      Object.assign(step, { status: 'SUCCEEDED', startedAt: NOW, finishedAt: NOW });
      Object.assign(operation, {
        stepsCompleted: index + 1,
        percentComplete: Math.round(((index + 1) / steps.length) * 100),
        currentStep: step,
      });
      if (last) Object.assign(operation, { status: 'SUCCEEDED', finishedAt: NOW });
      yield event('STEP_FINISHED', step, null);
    }
  }

  const root = {
    sites: () => sites,
    site: ({ name }: { name: string }) => sites.find((s) => s.name === name) ?? null,
    boston: () => ({
      volumeTypes: [
        {
          id: 'vt-1',
          name: 'replicated-ssd',
          description: null,
          replicationEnabled: true,
          replicationType: 'ASYNC',
          isPublic: true,
        },
        {
          id: 'vt-2',
          name: 'standard-ssd',
          description: 'local only',
          replicationEnabled: false,
          replicationType: null,
          isPublic: true,
        },
      ],
    }),
    protectionGroups: () => {
      const nodes = [...groups.values()];
      return {
        nodes,
        edges: [],
        pageInfo: { hasNextPage: false, endCursor: null },
        totalCount: nodes.length,
      };
    },
    protectionGroup: ({ id, name }: { id?: string; name?: string }) =>
      (id !== undefined ? groups.get(id) : [...groups.values()].find((g) => g['name'] === name)) ?? null,
    operation: ({ id }: { id: string }) => operations.get(id) ?? null,
    operations: () => {
      const nodes = [...operations.values()].reverse();
      return {
        nodes,
        edges: [],
        pageInfo: { hasNextPage: false, endCursor: null },
        totalCount: nodes.length,
      };
    },
    createReplicationPolicy: ({ input }: { input: { protectionGroup: string; policy: Json } }) => {
      const group = findGroup(input.protectionGroup);
      const { primaryArrayToken, secondaryArrayToken, ...policy } = input.policy;
      group['policy'] = {
        primaryArrayUrl: null,
        secondaryArrayUrl: null,
        replicationIntervalSeconds: 300,
        rpoMinutes: 15,
        ...(group['policy'] as Json | null),
        ...policy,
        primaryArrayTokenSet: primaryArrayToken !== undefined,
        secondaryArrayTokenSet: secondaryArrayToken !== undefined,
        updatedAt: NOW,
      };
      return group;
    },
    addMember: ({ input }: { input: { protectionGroup: string } }) => {
      findGroup(input.protectionGroup);
      throw fail('VOLUME_TYPE_NOT_REPLICATED', "Volume type 'standard-ssd' does not support replication");
    },
    addMembers: ({ input }: { input: { protectionGroup: string } }) => {
      findGroup(input.protectionGroup);
      throw fail('VOLUME_TYPE_NOT_REPLICATED', "Volume type 'standard-ssd' does not support replication");
    },
    failover: ({ input }: { input: Json }) =>
      startOperation(
        input['type'] === 'PLANNED' ? 'PLANNED_FAILOVER' : 'UNPLANNED_FAILOVER',
        input['protectionGroup'],
      ),
    testFailover: ({ input }: { input: Json }) => startOperation('TEST_FAILOVER', input['protectionGroup']),
  };

  const subscriptionFields = schema.getSubscriptionType()?.getFields() ?? {};
  const progress = subscriptionFields['operationProgress'];
  if (progress) {
    progress.subscribe = (_source, args: { id?: string }) => {
      const operation = operations.get(String(args.id));
      if (!operation) throw fail('NOT_FOUND', `Operation '${String(args.id)}' does not exist`);
      return runScript(operation);
    };
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          query: string;
          variables?: Json;
          operationName?: string;
        };
        requests.push({
          headers: req.headers,
          operationName: body.operationName,
          variables: body.variables ?? {},
        });
        const result = await graphql({
          schema,
          source: body.query,
          rootValue: root,
          variableValues: body.variables ?? {},
          operationName: body.operationName ?? null,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
      })();
    });
  });
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const disposable = useServer(
    {
      schema,
      // This module's graphql (vitest may load the ESM build here and the CJS build in graphql-ws).
      execute,
      subscribe,
      validate,
      roots: { query: root, mutation: root },
      onConnect: (ctx) => {
        connectionParams.push(ctx.connectionParams);
        return true;
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    requests,
    connectionParams,
    scripts,
    async stop() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
