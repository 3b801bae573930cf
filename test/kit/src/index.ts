/**
 * @protector/test-kit: the test tooling every package's tests share. Each module is also a subpath
 * (`/requirements`, `/waiting`, `/processes`, `/temp`, `/graphql`); only `/requirements` loads vitest,
 * so the lab (`npm start`) imports the others by subpath.
 */
export * from './graphql.js';
export * from './keystone.js';
export * from './processes.js';
export * from './requirements.js';
export * from './temp.js';
export * from './waiting.js';
