#!/usr/bin/env node
// `protector-gateway`: the coordinator gateway, once built.
import { launch } from '@protector/schema/launch';

await launch('protector-gateway', new URL('../dist/bin.js', import.meta.url));
