/**
 * A free loopback port, for tools that must name a port before starting what listens on it (the
 * lab writes its ports into the sites' configs). Another process may take the port between the
 * check and the listen; whatever can listen on port 0 and report what it bound should.
 * Loads nothing but node:net, so the lab (`npm start`) can use it without the test runner.
 */
import { createServer } from 'node:net';

/** A free TCP port on loopback (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}
