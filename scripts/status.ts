/**
 * `npm run status`: the cluster's state at a glance through kubectl (lib/status/status-cli.ts;
 * docs/operations.md#status-at-a-glance).
 */
import { join } from 'path';
import { runStatus } from '../lib/status/status-cli';

process.exitCode = runStatus({
  args: process.argv.slice(2),
  env: process.env,
  defaultEnvFile: join(__dirname, '..', 'pg-ha.env'),
  stdout: (text) => process.stdout.write(text),
  stderr: (line) => process.stderr.write(`${line}\n`),
});
