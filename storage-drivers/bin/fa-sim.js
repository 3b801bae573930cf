#!/usr/bin/env node
// `fa-sim`: the FlashArray REST simulator, once built.
import { launch } from '@protector/schema/launch';

await launch('fa-sim', new URL('../dist/fa-sim/cli.js', import.meta.url));
