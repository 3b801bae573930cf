#!/usr/bin/env node
// `protector`: the CLI, once built.
import { launch } from '@protector/schema/launch';

await launch('protector', new URL('../dist/cli/main.js', import.meta.url));
