// Every command of the `protector` CLI, in the order the help lists them.
import type { CommandSpec } from '../spec.js';
import { drCommands } from './dr.js';
import { healthCommands } from './health.js';
import { protectionGroupCommands } from './protection-group.js';
import { siteCommands } from './site.js';

export const COMMANDS: readonly CommandSpec[] = [
  ...siteCommands,
  ...protectionGroupCommands,
  ...drCommands,
  ...healthCommands,
];
