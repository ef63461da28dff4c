#!/usr/bin/env node
// The `ipam` executable: runs bin/ipam.ts through tsx (Node 20 cannot run TypeScript itself).
import { register } from 'tsx/esm/api';

register();
await import('./ipam.ts');
