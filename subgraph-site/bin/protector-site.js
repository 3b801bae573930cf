#!/usr/bin/env node
// `protector-site`: the site service, once built.
import { launch } from '@protector/schema/launch';

await launch('protector-site', new URL('../dist/bin.js', import.meta.url));
