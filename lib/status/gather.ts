/**
 * What `npm run status` asks the cluster, through the user's kubectl: one `get` of the cluster's
 * pods, StatefulSets, Deployments and Jobs (by its instance label), the day-2 Lease, Patroni's
 * GET /cluster from inside a Spilo pod (curl to its REST API on localhost: no password, the
 * endpoint is read-only and open), and etcd's `endpoint health --cluster` and `member list` from
 * inside an etcd pod with the certificate files the pod mounts (their paths from the live
 * StatefulSet's env). No Secret is read: with etcd's authentication on, health and the member list
 * need no user (a health check's read refused for permissions still proves a quorum answered).
 */
import { spawnSync } from 'child_process';
import { KubeObject, StatusInputs, podReady, podsOf, workloads, EtcdHealth, EtcdMemberList, PatroniCluster, INSTANCE_LABEL } from './cluster-status';

export interface KubectlResult { code: number; stdout: string; stderr: string }
export type RunKubectl = (args: string[]) => KubectlResult;

/** kubectl from `KUBECTL` or PATH, with the connection flags given; never throws. */
export function kubectlRunner(opts: { kubectl: string; kubeconfig?: string; context?: string; namespace: string; timeoutMs?: number }): RunKubectl {
  const timeout = opts.timeoutMs === undefined ? KUBECTL_TIMEOUT_MS : opts.timeoutMs;
  const base = [...(opts.kubeconfig ? [`--kubeconfig=${opts.kubeconfig}`] : []), ...(opts.context ? [`--context=${opts.context}`] : []), `--namespace=${opts.namespace}`];
  return (args) => {
    const r = spawnSync(opts.kubectl, [...base, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout });
    if (r.error) return { code: -1, stdout: '', stderr: `${opts.kubectl}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found (install kubectl or set KUBECTL)' : r.error.message}` };
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
}

/** one kubectl call (an exec included) that takes longer is killed and reported */
const KUBECTL_TIMEOUT_MS = 30000;

export class KubectlError extends Error {}

const firstLine = (r: KubectlResult) => (r.stderr.trim().split('\n').filter((l) => !/^\{"level":"warn"/.test(l)).pop() ?? '') || r.stdout.trim().split('\n')[0] || `exit ${r.code}`;

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

type Container = { name: string; env?: Array<{ name: string; value?: string }>; ports?: Array<{ name?: string; containerPort: number }> };
const envOf = (c: Container | undefined, name: string) => (c?.env ?? []).find((e) => e.name === name)?.value;
const containers = (w: KubeObject | undefined): Container[] => w?.spec?.template?.spec?.containers ?? [];

/** Spilo's container in the StatefulSet: the one with a port named `patroni` (postgres-cluster.ts) */
export function patroniTarget(postgres: KubeObject | undefined): { container: string; port: number } | undefined {
  for (const c of containers(postgres)) {
    const p = (c.ports ?? []).find((x) => x.name === 'patroni');
    if (p) return { container: c.name, port: p.containerPort };
  }
  return undefined;
}

/**
 * etcdctl's arguments in an etcd pod: the pod's own advertised client URL (ETCD_ADVERTISE_CLIENT_URLS,
 * `$(POD_NAME)` expanded, so the name matches its certificate) and, with TLS, the CA, certificate and
 * key the container mounts (ETCD_TRUSTED_CA_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE).
 */
export function etcdctlArgs(etcd: KubeObject | undefined, pod: string): { container: string; args: string[] } | undefined {
  const c = containers(etcd).find((x) => envOf(x, 'ETCD_ADVERTISE_CLIENT_URLS'));
  if (!c) return undefined;
  const url = envOf(c, 'ETCD_ADVERTISE_CLIENT_URLS')!.split(',')[0].replace(/\$\(POD_NAME\)|\$\(ETCD_NAME\)/g, pod);
  const args = [`--endpoints=${url}`, '--command-timeout=5s', '--dial-timeout=3s'];
  if (url.startsWith('https:')) {
    const ca = envOf(c, 'ETCD_TRUSTED_CA_FILE');
    if (ca) args.push(`--cacert=${ca}`);
    const cert = envOf(c, 'ETCD_CERT_FILE');
    const key = envOf(c, 'ETCD_KEY_FILE');
    if (cert && key) args.push(`--cert=${cert}`, `--key=${key}`);
  }
  return { container: c.name, args };
}

/** ready pods first, then the rest that run (a not-ready pod may still answer) */
const askOrder = (pods: KubeObject[]) => [...pods.filter(podReady), ...pods.filter((p) => !podReady(p) && p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)];

export function gatherStatus(kubectl: RunKubectl, namespace: string, scope: string, now = () => new Date()): StatusInputs {
  const list = kubectl(['get', 'pods,statefulsets,deployments,jobs', '-l', `${INSTANCE_LABEL}=${scope}`, '-o', 'json']);
  if (list.code !== 0) throw new KubectlError(`kubectl get pods,statefulsets,deployments,jobs in namespace ${namespace}: ${firstLine(list)}`);
  const objects = (parseJson<{ items: KubeObject[] }>(list.stdout)?.items ?? []);
  const leaseR = kubectl(['get', 'lease', `${scope}-day2`, '-o', 'json', '--ignore-not-found']);
  const lease = leaseR.code === 0 && leaseR.stdout.trim() ? parseJson<KubeObject>(leaseR.stdout) : undefined;
  const w = workloads({ objects, scope });

  const patroni: StatusInputs['patroni'] = {};
  const target = patroniTarget(w.postgres);
  const errors: string[] = [];
  if (target) {
    for (const p of askOrder(podsOf(w.postgres, objects))) {
      const r = kubectl(['exec', p.metadata.name, '-c', target.container, '--', 'curl', '-s', '-m', '5', `http://localhost:${target.port}/cluster`]);
      const cluster = r.code === 0 ? parseJson<PatroniCluster>(r.stdout) : undefined;
      if (cluster?.members) {
        Object.assign(patroni, { pod: p.metadata.name, cluster });
        break;
      }
      errors.push(`${p.metadata.name}: ${firstLine(r)}`);
    }
    if (!patroni.cluster) patroni.error = errors.join('; ') || 'no Spilo pod runs';
  } else if (w.postgres) patroni.error = `the StatefulSet ${w.postgres.metadata.name} has no container port named patroni`;

  const etcd: StatusInputs['etcd'] = {};
  errors.length = 0;
  for (const p of askOrder(podsOf(w.etcd, objects))) {
    const t = etcdctlArgs(w.etcd, p.metadata.name);
    if (!t) {
      etcd.error = 'the etcd StatefulSet has no ETCD_ADVERTISE_CLIENT_URLS';
      break;
    }
    const health = kubectl(['exec', p.metadata.name, '-c', t.container, '--', 'etcdctl', ...t.args, 'endpoint', 'health', '--cluster', '-w', 'json']);
    // exit 1 when a member is unhealthy: the JSON still lists every member
    const h = parseJson<EtcdHealth[]>(health.stdout.trim());
    if (!Array.isArray(h) || !h.length) {
      errors.push(`${p.metadata.name}: ${firstLine(health)}`);
      continue;
    }
    const members = kubectl(['exec', p.metadata.name, '-c', t.container, '--', 'etcdctl', ...t.args, 'member', 'list', '-w', 'json']);
    Object.assign(etcd, { pod: p.metadata.name, health: h, members: members.code === 0 ? parseJson<EtcdMemberList>(members.stdout) : undefined });
    break;
  }
  if (!etcd.health && !etcd.error) etcd.error = errors.join('; ') || 'no etcd pod runs';
  return { namespace, scope, objects, lease, patroni, etcd, now: now() };
}
