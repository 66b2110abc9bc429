#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

const code = await main(process.argv);
// Interrupted (130 SIGINT, 143 SIGTERM): cleanup is done; do not wait for steps still unwinding.
if (code === 130 || code === 143) process.exit(code);
process.exitCode = code;
