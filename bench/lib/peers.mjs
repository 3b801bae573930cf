// The peer gateways: a bare Apollo Gateway and Hive Gateway, each its own process, over a supergraph
// composed from the two SITE subgraphs of a running lab (the coordinator subgraph lives inside our
// gateway and is not served on its own).
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { siteSubgraphSdl } from '@protector/schema';
import { startProcess } from '@protector/test-kit/processes';
import { Kind, parse } from 'graphql';
import { ROOT } from './common.mjs';

/**
 * The supergraph of the lab's two sites, with their URLs, composed with @apollo/composition from the
 * SDL each site serves (the same text our gateway composes). One change: the sites' `Mutation`, whose
 * only fields are the coordinator's @inaccessible step mutations, is left out, because a supergraph
 * whose Mutation has only inaccessible fields does not compose ("all of its fields are @inaccessible");
 * in our gateway the coordinator's public mutations sit beside them.
 */
export function composeSiteSupergraph(lab) {
  const subgraphs = Object.values(lab.sites).map((s) => {
    const doc = parse(siteSubgraphSdl(s.name));
    return {
      name: s.name,
      url: s.url,
      typeDefs: {
        ...doc,
        definitions: doc.definitions.filter(
          (d) => !(d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === 'Mutation'),
        ),
      },
    };
  });
  const result = composeServices(subgraphs);
  if (result.errors?.length)
    throw new Error(`site-only supergraph: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.supergraphSdl;
}

/** A free TCP port in 4600-4699 on 127.0.0.1 (for a program that cannot report the port it bound). */
export async function freePort() {
  for (let port = 4600; port <= 4699; port++) {
    const ok = await new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port in 4600-4699');
}

/** Environment of the peers: ours, without the lab's PROTECTOR_* settings or a preload. */
function peerEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROTECTOR_')));
  delete env.NODE_OPTIONS;
  return env;
}

/** Starts the bare Apollo Gateway; resolves to `{ name, url, process }`. */
export async function startApolloGateway(supergraphFile, logDir) {
  const proc = await startProcess({
    command: process.execPath,
    args: [join(ROOT, 'bench', 'peers', 'apollo-gateway.mjs'), supergraphFile, '0'],
    name: 'apollo-gateway',
    env: peerEnv(),
    ready: /apollo-gateway ready at (\S+)/,
    timeoutMs: 60_000,
    logFile: join(logDir, 'apollo-gateway.log'),
  });
  return { name: 'apollo-gateway', url: proc.ready[1], process: proc };
}

/** Starts Hive Gateway's CLI (one process, its default `--fork 1`); resolves to `{ name, url, process }`. */
export async function startHiveGateway(supergraphFile, logDir) {
  const port = await freePort();
  const proc = await startProcess({
    command: process.execPath,
    args: [
      join(ROOT, 'node_modules', '@graphql-hive', 'gateway', 'dist', 'bin.js'),
      'supergraph',
      supergraphFile,
      '--config-path',
      join(ROOT, 'bench', 'peers', 'hive-gateway.config.mjs'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ],
    name: 'hive-gateway',
    env: peerEnv(),
    cwd: join(ROOT, 'bench'),
    ready: /Listening on (http:\/\/\S+)/,
    timeoutMs: 60_000,
    logFile: join(logDir, 'hive-gateway.log'),
  });
  return { name: 'hive-gateway', url: `http://127.0.0.1:${port}/graphql`, process: proc };
}

/** Writes the supergraph next to the lab and starts both peers. */
export async function startPeers(lab, which) {
  const file = join(lab.dir, 'site-only-supergraph.graphql');
  writeFileSync(file, composeSiteSupergraph(lab));
  const out = [];
  try {
    if (which.includes('apollo-gateway')) out.push(await startApolloGateway(file, lab.dir));
    if (which.includes('hive-gateway')) out.push(await startHiveGateway(file, lab.dir));
  } catch (err) {
    await Promise.all(out.map((p) => p.process.stop(10_000)));
    throw err;
  }
  return out;
}
