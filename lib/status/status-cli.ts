/**
 * `npm run status [-- --namespace X --scope Y --kubeconfig K --context C --settings FILE --json]`:
 * the cluster's state at a glance through kubectl. The namespace and scope default to the settings
 * (pg-ha.env, overridden by the environment, as the synth reads them), so a fork's names work.
 * kubectl is `KUBECTL` or the one on PATH. Exit 0: healthy; 1: not healthy (the problems are named);
 * 2: could not ask (bad arguments, kubectl failed).
 */
import { DEFAULTS } from '../settings/defaults';
import { parseVariables, readSettingsInput } from '../settings/env-file';
import { clusterStatus, renderStatus } from './cluster-status';
import { gatherStatus, KubectlError, kubectlRunner, RunKubectl } from './gather';

export interface StatusCliOptions {
  args: string[];
  env: Record<string, string | undefined>;
  defaultEnvFile: string;
  stdout: (text: string) => void;
  stderr: (line: string) => void;
  /** for tests: kubectl as a function */
  kubectl?: RunKubectl;
}

const USAGE = 'usage: npm run status -- [--namespace NS] [--scope SCOPE] [--kubeconfig FILE] [--context NAME] [--settings FILE] [--json]';

export function parseStatusArgs(args: string[]): { flags: Record<string, string>; json: boolean } | { error: string } {
  const flags: Record<string, string> = {};
  let json = false;
  const valued = ['namespace', 'scope', 'kubeconfig', 'context', 'settings'];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') {
      json = true;
      continue;
    }
    if (a === '-h' || a === '--help') return { error: USAGE };
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(a) ?? (a === '-n' ? [a, 'namespace', undefined] : null);
    if (!m || !valued.includes(m[1])) return { error: `unknown argument ${a}\n${USAGE}` };
    const value = m[2] ?? args[++i];
    if (value === undefined || value === '') return { error: `--${m[1]} needs a value\n${USAGE}` };
    flags[m[1]] = value;
  }
  return { flags, json };
}

export function runStatus(opts: StatusCliOptions): number {
  const parsed = parseStatusArgs(opts.args);
  if ('error' in parsed) {
    opts.stderr(parsed.error);
    return 2;
  }
  const { flags, json } = parsed;
  const input = readSettingsInput(flags.settings ?? opts.defaultEnvFile, opts.env);
  const { settings } = parseVariables(input.values, input.sources);
  const namespace = flags.namespace ?? settings.namespace ?? DEFAULTS.namespace;
  const scope = flags.scope ?? settings.scope ?? DEFAULTS.scope;
  const kubectl = opts.kubectl ?? kubectlRunner({ kubectl: opts.env.KUBECTL || 'kubectl', kubeconfig: flags.kubeconfig, context: flags.context, namespace });
  let status;
  try {
    const inputs = gatherStatus(kubectl, namespace, scope);
    status = clusterStatus(inputs);
    if (json) opts.stdout(JSON.stringify(status, null, 2) + '\n');
    else opts.stdout(renderStatus(status, inputs.now));
  } catch (e) {
    if (!(e instanceof KubectlError)) throw e;
    opts.stderr(`status: ${e.message}`);
    return 2;
  }
  if (!status.healthy) opts.stderr(`status: cluster ${scope} in namespace ${namespace} is not healthy: ${status.problems.join('; ')}`);
  return status.healthy ? 0 : 1;
}
