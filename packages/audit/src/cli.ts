#!/usr/bin/env node
/**
 * The `cdn-origin-guard` bin.
 * @module
 */
import { runCommand } from './command.js';

runCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
);
