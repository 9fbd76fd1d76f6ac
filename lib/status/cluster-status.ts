/**
 * `npm run status`: the cluster's state at a glance, from what kubectl returns. This file is the
 * pure part: the objects the API server lists, Patroni's `/cluster`, etcdctl's JSON in; the
 * verdict (what is wrong, what to look at) and its table out. gather.ts runs kubectl for it.
 *
 * Objects are found by the labels the chart gives them (lib/k8s/labels.ts, each component's
 * ComponentIdentity): `app.kubernetes.io/instance: <scope>` and the component below; pods by their
 * workload's own selector. No name is assumed beyond `<scope>` and `<scope>-day2` (the Lease).
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
export type KubeObject = { apiVersion?: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; creationTimestamp?: string; deletionTimestamp?: string }; spec?: any; status?: any };

export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** the component label of each part (postgres-cluster.ts, etcd-cluster.ts, pg-router.ts, converge-job.ts, postgres-rollout.ts) */
export const COMPONENTS = { postgres: 'database', etcd: 'dcs', router: 'router', converge: 'converge', rollout: 'rollout' } as const;

/** A member in Patroni's GET /cluster (Patroni 4.0). */
export interface PatroniClusterMember {
  name: string;
  role: string;
  state: string;
  host?: string;
  timeline?: number;
  lag?: number | string;
  receive_lag?: number | string;
  replay_lag?: number | string;
  pending_restart?: boolean;
  pending_restart_reason?: Record<string, unknown>;
}

export interface PatroniCluster {
  members: PatroniClusterMember[];
  pause?: boolean;
  scheduled_switchover?: unknown;
}

/** `etcdctl endpoint health --cluster -w json` */
export interface EtcdHealth { endpoint: string; health: boolean; took?: string; error?: string }
/** `etcdctl member list -w json` */
export interface EtcdMemberList { members: Array<{ ID: number | string; name: string; clientURLs?: string[]; isLearner?: boolean }> }

export interface StatusInputs {
  namespace: string;
  scope: string;
  /** pods, statefulsets, deployments and jobs labelled `app.kubernetes.io/instance=<scope>` */
  objects: KubeObject[];
  /** the Lease `<scope>-day2`, undefined when it does not exist */
  lease?: KubeObject;
  /** Patroni's view, from the first Spilo pod that answered (or why none did) */
  patroni: { pod?: string; cluster?: PatroniCluster; error?: string };
  /** etcd's view, from the first etcd pod that answered (or why none did) */
  etcd: { pod?: string; health?: EtcdHealth[]; members?: EtcdMemberList; error?: string };
  now: Date;
}

export interface MemberRow {
  name: string;
  node: string;
  pod: string;
  role: string;
  state: string;
  timeline?: number;
  lagBytes?: number;
  lag: string;
  pendingRestart: boolean;
  /** `max_connections 100 -> 200, ...` from Patroni's pending_restart_reason */
  pendingRestartReason?: string;
}

export interface EtcdRow { name: string; node: string; pod: string; healthy: boolean; detail: string }

export interface JobRow { kind: 'converge' | 'rollout'; name: string; result: 'succeeded' | 'failed' | 'running' | 'pending'; when?: string; ago: string }

export interface ClusterStatus {
  namespace: string;
  scope: string;
  healthy: boolean;
  /** what makes the cluster unhealthy (non-zero exit) */
  problems: string[];
  /** worth a look, not unhealthy */
  warnings: string[];
  leader?: string;
  syncStandby: string[];
  members: MemberRow[];
  patroniFrom?: string;
  router: { deployment?: string; ready: number; desired: number; pods: Array<{ name: string; node: string; ready: boolean }> };
  etcd: { statefulSet?: string; from?: string; members: EtcdRow[] };
  jobs: JobRow[];
  day2Lease: { name: string; exists: boolean; holder?: string; renewTime?: string };
}

const labelsOf = (o: KubeObject) => o.metadata.labels ?? {};
const ofComponent = (objects: KubeObject[], kind: string, scope: string, component: string) =>
  objects.filter((o) => o.kind === kind && labelsOf(o)[INSTANCE_LABEL] === scope && labelsOf(o)[COMPONENT_LABEL] === component);

/** the pods a workload's selector (matchLabels) selects */
export function podsOf(workload: KubeObject | undefined, objects: KubeObject[]): KubeObject[] {
  const sel: Record<string, string> = workload?.spec?.selector?.matchLabels ?? {};
  if (!workload || !Object.keys(sel).length) return [];
  return objects.filter((o) => o.kind === 'Pod' && Object.entries(sel).every(([k, v]) => labelsOf(o)[k] === v)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, undefined, { numeric: true }));
}

export const podReady = (p: KubeObject): boolean => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');

/** why a pod is not ready, in kubectl's words (a waiting container's reason, a deletion, the phase) */
export function podTrouble(p: KubeObject): string {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  const waiting = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].find((c: any) => c.state?.waiting?.reason);
  if (waiting) return `${waiting.name}: ${waiting.state.waiting.reason}`;
  const notReady = (p.status?.containerStatuses ?? []).filter((c: any) => !c.ready).map((c: any) => c.name);
  if (notReady.length && p.status?.phase === 'Running') return `not ready: ${notReady.join(', ')}`;
  return p.status?.phase ?? 'unknown';
}

export function workloads(inputs: Pick<StatusInputs, 'objects' | 'scope'>) {
  const { objects, scope } = inputs;
  return {
    postgres: ofComponent(objects, 'StatefulSet', scope, COMPONENTS.postgres)[0],
    etcd: ofComponent(objects, 'StatefulSet', scope, COMPONENTS.etcd)[0],
    router: ofComponent(objects, 'Deployment', scope, COMPONENTS.router)[0],
  };
}

/** bytes as patronictl shows lag: 0, 1.5 MB, ... */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatAgo(from: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function jobRow(kind: JobRow['kind'], job: KubeObject, now: Date): JobRow {
  const conds: Array<{ type: string; status: string; lastTransitionTime?: string }> = job.status?.conditions ?? [];
  const done = conds.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  const result: JobRow['result'] = done ? (done.type === 'Complete' ? 'succeeded' : 'failed') : (job.status?.active ?? 0) > 0 ? 'running' : 'pending';
  const when: string | undefined = job.status?.completionTime ?? done?.lastTransitionTime ?? job.status?.startTime ?? job.metadata.creationTimestamp;
  return { kind, name: job.metadata.name, result, when, ago: when ? formatAgo(new Date(when), now) : '' };
}

/** Patroni's pending_restart_reason: `{param: {old_value, new_value}}` */
function restartReason(r: Record<string, unknown> | undefined): string | undefined {
  if (!r || typeof r !== 'object') return undefined;
  const parts = Object.entries(r).map(([k, v]) => {
    const o = v as { old_value?: unknown; new_value?: unknown } | undefined;
    return o && typeof o === 'object' && 'new_value' in o ? `${k} ${String(o.old_value)} -> ${String(o.new_value)}` : k;
  });
  return parts.length ? parts.join(', ') : undefined;
}

const lagOf = (m: PatroniClusterMember): number | undefined => {
  const v = m.lag ?? m.replay_lag ?? m.receive_lag;
  return typeof v === 'number' ? v : undefined;
};

/** etcd's endpoint URL -> the pod's name (its host's first label: `<pod>.<headless>.<ns>.svc...`) */
const endpointPod = (url: string): string => {
  try {
    return new URL(url).hostname.split('.')[0];
  } catch {
    return url;
  }
};

/** The verdict on everything gathered. */
export function clusterStatus(inputs: StatusInputs): ClusterStatus {
  const { objects, scope, namespace, now } = inputs;
  const problems: string[] = [];
  const warnings: string[] = [];
  const w = workloads(inputs);

  // --- PostgreSQL / Patroni
  const pgPods = podsOf(w.postgres, objects);
  const podByName = new Map(pgPods.map((p) => [p.metadata.name, p]));
  const desired: number = w.postgres?.spec?.replicas ?? 0;
  if (!w.postgres) problems.push(`no PostgreSQL StatefulSet labelled ${INSTANCE_LABEL}=${scope}, ${COMPONENT_LABEL}=${COMPONENTS.postgres} in namespace ${namespace}`);
  const pm = inputs.patroni.cluster?.members ?? [];
  if (w.postgres && !inputs.patroni.cluster) problems.push(`Patroni did not answer in any pod: ${inputs.patroni.error ?? 'no pod to ask'}`);
  const members: MemberRow[] = pm.map((m) => {
    const pod = podByName.get(m.name);
    const lagBytes = m.role === 'leader' || m.role === 'standby_leader' ? undefined : lagOf(m);
    const lagRaw = m.lag ?? m.replay_lag;
    return {
      name: m.name,
      node: pod?.spec?.nodeName ?? '',
      pod: pod ? (podReady(pod) ? 'ready' : podTrouble(pod)) : 'no pod',
      role: m.role,
      state: m.state,
      timeline: m.timeline,
      lagBytes,
      lag: m.role === 'leader' ? '' : lagBytes !== undefined ? formatBytes(lagBytes) : lagRaw !== undefined ? String(lagRaw) : '',
      pendingRestart: Boolean(m.pending_restart),
      pendingRestartReason: restartReason(m.pending_restart_reason),
    };
  });
  // the StatefulSet's pods Patroni does not list
  const UNKNOWN = 'unknown (Patroni did not answer)';
  for (const p of pgPods) {
    if (!pm.some((m) => m.name === p.metadata.name)) {
      members.push({ name: p.metadata.name, node: p.spec?.nodeName ?? '', pod: podReady(p) ? 'ready' : podTrouble(p), role: '', state: inputs.patroni.cluster ? 'not in Patroni' : UNKNOWN, lag: '', pendingRestart: false });
    }
  }
  members.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  const leaders = pm.filter((m) => m.role === 'leader' || m.role === 'standby_leader');
  const leader = leaders[0]?.name;
  if (inputs.patroni.cluster) {
    if (!leaders.length) problems.push('no leader: Patroni lists no member holding the leader lock');
    else if (leaders.length > 1) problems.push(`more than one leader: ${leaders.map((l) => l.name).join(', ')}`);
    for (const l of leaders) if (l.state !== 'running') problems.push(`leader ${l.name} is ${l.state}, not running`);
    if (inputs.patroni.cluster.pause) warnings.push('Patroni is paused (maintenance mode): no automatic failover');
  }
  const leaderTimeline = leaders[0]?.timeline;
  for (const m of members) {
    if (m.role === 'leader' || m.role === 'standby_leader' || m.state === UNKNOWN) continue;
    if (m.state === 'not in Patroni') problems.push(`${m.name}: its pod exists (${m.pod}) but Patroni does not list it as a member`);
    else if (m.state !== 'streaming') problems.push(`${m.name} is not streaming (state: ${m.state})`);
    else if (leaderTimeline !== undefined && m.timeline !== undefined && m.timeline !== leaderTimeline) warnings.push(`${m.name} is on timeline ${m.timeline}, the leader on ${leaderTimeline}`);
  }
  for (let i = 0; i < desired; i++) {
    const name = `${w.postgres!.metadata.name}-${i}`;
    if (!members.some((m) => m.name === name)) problems.push(`${name} is missing: no pod and no Patroni member (the StatefulSet wants ${desired})`);
  }
  for (const m of members) {
    if (m.pod !== 'ready' && m.state !== 'not in Patroni') problems.push(`pod ${m.name} is not ready (${m.pod})`);
    if (m.pendingRestart) warnings.push(`${m.name} has a pending restart${m.pendingRestartReason ? ` (${m.pendingRestartReason})` : ''}: the converge Job restarts members for a change in git; otherwise patronictl restart`);
  }
  const syncStandby = pm.filter((m) => m.role === 'sync_standby' || m.role === 'quorum_standby').map((m) => m.name);
  if (inputs.patroni.cluster && desired > 1 && leader && !syncStandby.length) warnings.push('no synchronous standby (with synchronous_mode on, Patroni promotes only a synchronous standby)');

  // --- router
  const routerPods = podsOf(w.router, objects).filter((p) => !p.metadata.deletionTimestamp);
  const router = {
    deployment: w.router?.metadata.name,
    desired: w.router?.spec?.replicas ?? 0,
    ready: routerPods.filter(podReady).length,
    pods: routerPods.map((p) => ({ name: p.metadata.name, node: p.spec?.nodeName ?? '', ready: podReady(p) })),
  };
  if (!w.router) problems.push(`no router Deployment labelled ${COMPONENT_LABEL}=${COMPONENTS.router}`);
  else if (router.ready === 0) problems.push(`router ${router.deployment}: no pod ready (the write and read Services have no endpoint)`);
  else if (router.ready < router.desired) warnings.push(`router ${router.deployment}: ${router.ready} of ${router.desired} pods ready`);

  // --- etcd
  const etcdPods = podsOf(w.etcd, objects);
  const etcdRows: EtcdRow[] = [];
  if (!w.etcd) problems.push(`no etcd StatefulSet labelled ${COMPONENT_LABEL}=${COMPONENTS.etcd}`);
  else if (!inputs.etcd.health) problems.push(`etcd did not answer in any pod: ${inputs.etcd.error ?? 'no pod to ask'}`);
  else {
    // member names by client URL (member list), else the URL's first label (`<pod>.<headless>...`)
    const nameOf = (url: string) => (inputs.etcd.members?.members ?? []).find((m) => (m.clientURLs ?? []).includes(url))?.name ?? endpointPod(url);
    const listed = inputs.etcd.health.map((h) => ({ name: nameOf(h.endpoint), h }));
    for (const p of etcdPods) if (!listed.some((l) => l.name === p.metadata.name)) listed.push({ name: p.metadata.name, h: undefined as unknown as EtcdHealth });
    for (const { name, h } of listed.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))) {
      const pod = etcdPods.find((p) => p.metadata.name === name);
      const healthy = Boolean(h?.health);
      const detail = !h ? 'not in the member list' : healthy ? (h.took ? `answered in ${h.took}` : '') : (h.error ?? 'unhealthy').split('\n')[0];
      etcdRows.push({ name, node: pod?.spec?.nodeName ?? '', pod: pod ? (podReady(pod) ? 'ready' : podTrouble(pod)) : 'no pod', healthy, detail });
    }
    const unhealthy = etcdRows.filter((r) => !r.healthy);
    for (const r of unhealthy) problems.push(`etcd member ${r.name} is unhealthy: ${r.detail}`);
    const total = inputs.etcd.health.length;
    if (total && (total - unhealthy.length) * 2 <= total) problems.push(`etcd has no quorum: ${total - unhealthy.length} of ${total} members healthy`);
    for (const r of etcdRows) if (r.healthy && r.pod !== 'ready') warnings.push(`etcd pod ${r.name} is not ready (${r.pod})`);
  }

  // --- day-2 Jobs and their Lease
  const jobs: JobRow[] = [];
  for (const kind of ['converge', 'rollout'] as const) {
    const last = ofComponent(objects, 'Job', scope, COMPONENTS[kind]).sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '')).pop();
    if (!last) continue;
    const row = jobRow(kind, last, now);
    jobs.push(row);
    if (row.result === 'failed') warnings.push(`the last ${kind} Job ${row.name} failed: kubectl -n ${namespace} logs job/${row.name}`);
  }
  const leaseName = `${scope}-day2`;
  const day2Lease = { name: leaseName, exists: Boolean(inputs.lease), holder: inputs.lease?.spec?.holderIdentity || undefined, renewTime: inputs.lease?.spec?.renewTime };
  if (!inputs.lease) warnings.push(`Lease ${leaseName} does not exist: the day-2 Jobs cannot run (kubectl apply -f dist/ restores it)`);

  return {
    namespace, scope, healthy: problems.length === 0, problems, warnings, leader, syncStandby, members, patroniFrom: inputs.patroni.pod,
    router, etcd: { statefulSet: w.etcd?.metadata.name, from: inputs.etcd.pod, members: etcdRows }, jobs, day2Lease,
  };
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The status as a person reads it. */
export function renderStatus(s: ClusterStatus, now: Date): string {
  const out: string[] = [];
  out.push(`Cluster ${s.scope} in namespace ${s.namespace}: ${s.healthy ? 'healthy' : 'NOT HEALTHY'}`);
  out.push(`Leader: ${s.leader || 'none'}    Synchronous standby: ${s.syncStandby.join(', ') || 'none'}`);
  out.push('');
  out.push(`PostgreSQL members (Patroni${s.patroniFrom ? `, asked in ${s.patroniFrom}` : ''}):`);
  out.push(...table(['MEMBER', 'NODE', 'ROLE', 'STATE', 'TL', 'LAG', 'PENDING RESTART', 'POD'],
    s.members.map((m) => [m.name, m.node, m.role, m.state, m.timeline?.toString() ?? '', m.lag, m.pendingRestart ? 'yes' : '', m.pod])).map((l) => `  ${l}`));
  out.push('');
  out.push(`Router ${s.router.deployment ?? '(none)'}: ${s.router.ready}/${s.router.desired} pods ready${s.router.pods.length ? ` (${s.router.pods.map((p) => `${p.name}${p.ready ? '' : ' not ready'}`).join(', ')})` : ''}`);
  out.push('');
  const etcdHealthy = s.etcd.members.filter((m) => m.healthy).length;
  out.push(`etcd ${s.etcd.statefulSet ?? '(none)'}: ${etcdHealthy}/${s.etcd.members.length} members healthy${s.etcd.from ? ` (asked in ${s.etcd.from})` : ''}`);
  if (s.etcd.members.length) out.push(...table(['MEMBER', 'NODE', 'HEALTH', 'POD', 'DETAIL'], s.etcd.members.map((m) => [m.name, m.node, m.healthy ? 'healthy' : 'UNHEALTHY', m.pod, m.detail])).map((l) => `  ${l}`));
  out.push('');
  out.push('Day-2 Jobs:');
  if (!s.jobs.length) out.push('  none in the namespace');
  else out.push(...table(['JOB', 'NAME', 'RESULT', 'WHEN'], s.jobs.map((j) => [j.kind, j.name, j.result, j.when ? `${j.when} (${j.ago})` : ''])).map((l) => `  ${l}`));
  const lease = s.day2Lease;
  out.push(`  Lease ${lease.name}: ${!lease.exists ? 'does not exist' : lease.holder ? `held by ${lease.holder}${lease.renewTime ? ` (renewed ${formatAgo(new Date(lease.renewTime), now)})` : ''}` : 'free (no day-2 Job at work)'}`);
  if (s.problems.length) {
    out.push('');
    out.push('Problems:');
    out.push(...s.problems.map((p) => `  - ${p}`));
  }
  if (s.warnings.length) {
    out.push('');
    out.push('Warnings:');
    out.push(...s.warnings.map((p) => `  - ${p}`));
  }
  return out.join('\n') + '\n';
}
