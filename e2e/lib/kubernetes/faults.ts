/*
 * Failures made real on the Kubernetes bed, under a write load through the write Service:
 *   - the leader's pod deleted (Kubernetes sends SIGTERM; Patroni hands over; the StatefulSet recreates it);
 *   - the leader's whole node lost (kubelet, containerd, kube-proxy and every container killed at once),
 *     then the node started again.
 * Each returns what the writes saw: seconds without an acknowledged write, acknowledged writes lost.
 */
import { log } from '../log';
import { PgConn, tryQuery, WriteLoad } from '../pg';
import { sleep, waitFor } from '../poll';
import { writeUnavailability } from '../write-availability';
import type { KubernetesCluster } from './cluster';
import type { DeployedPgHa, LivePod, PatroniMember } from './deployed-pg-ha';
import type { KubeObject } from './kube-client';

export interface FaultResult {
  kind: 'pod-deleted' | 'node-lost';
  oldLeader: string;
  newLeader: string;
  /** from the fault to the first write the new leader acknowledged through the write Service */
  firstWriteS: number;
  /** summed windows without an acknowledged write (write-availability.ts) */
  unavailableS: number;
  acknowledged: number;
  /** acknowledged writes missing from the table afterwards: must be 0 */
  lost: number;
  /** the lost node's StatefulSet pod while the node was down (node-lost only) */
  strandedPod?: LivePod;
}

export const FAULT_TABLE = 'e2e_fault_writes';

async function newLeader(deployed: DeployedPgHa, old: string, timeoutMs: number): Promise<PatroniMember> {
  return waitFor('a new leader', async () => {
    const l = (await deployed.members())?.find((x) => x.role === 'leader' && x.state === 'running');
    return l && l.name !== old ? l : undefined;
  }, { timeoutMs, intervalMs: 200 });
}

/**
 * A query through a Service that retries for a while: after a node is lost, Kubernetes keeps its
 * pods' endpoints until it marks them not ready (20-30 s here), so some new connections are refused.
 */
async function queryThroughService<R extends Record<string, unknown>>(conn: PgConn, sql: string, timeoutMs = 60000): Promise<R[]> {
  return waitFor(`\`${sql}\` through ${conn.host}:${conn.port}`, () => tryQuery<R>(conn, sql, [], 5000), { timeoutMs, intervalMs: 500 });
}

export async function lostWrites(conn: PgConn, load: WriteLoad): Promise<number> {
  const ids = new Set((await queryThroughService<{ id: string }>(conn, `SELECT id FROM ${FAULT_TABLE}`)).map((r) => Number(r.id)));
  return load.acks.filter((a) => !ids.has(a.id)).length;
}

export async function ensureFaultTable(conn: PgConn): Promise<void> {
  await queryThroughService(conn, `CREATE TABLE IF NOT EXISTS ${FAULT_TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
}

let nextId = 1;

/** A write load through `conn` into the fault table, its ids following the earlier loads' (one load at a time). */
export function startWrites(conn: PgConn, maxMs = 10 * 60 * 1000): WriteLoad {
  const load = new WriteLoad(conn, FAULT_TABLE, { firstId: nextId, maxMs });
  load.start();
  return load;
}

export async function stopWrites(load: WriteLoad): Promise<void> {
  await load.stop();
  nextId = Math.max(nextId, load.lastId + 1);
}

/** the first acknowledgement after t, or an error naming what the load saw */
async function firstAck(load: WriteLoad, t: number, timeoutMs = 180000, pred: (a: { server: string }) => boolean = () => true): Promise<{ ackAt: number }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no write acknowledged within ${timeoutMs / 1000} s; last errors: ${load.errors.slice(-3).map((e) => e.message).join(' | ')}`)), timeoutMs);
  });
  try {
    return await Promise.race([load.firstAckAfter(t, pred), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Run `fault` under the write load; the outage is over at the first write the new leader (not the
 * old one, `oldIp`, which may still answer for a moment) acknowledges.
 */
async function underWrites(conn: PgConn, oldIp: string, fault: (load: WriteLoad) => Promise<Omit<FaultResult, 'firstWriteS' | 'unavailableS' | 'acknowledged' | 'lost'> & { t0: number }>): Promise<FaultResult> {
  const load = new WriteLoad(conn, FAULT_TABLE, { firstId: nextId });
  load.start();
  let r: Awaited<ReturnType<typeof fault>>;
  let first: { ackAt: number };
  try {
    await firstAck(load, Date.now());
    r = await fault(load);
    first = await firstAck(load, r.t0, 180000, (a) => a.server !== oldIp);
    await sleep(1000);
  } finally {
    await load.stop();
    nextId = load.lastId + 1;
  }
  const { t0, ...rest } = r;
  return {
    ...rest,
    firstWriteS: (first.ackAt - t0) / 1000,
    unavailableS: writeUnavailability(load.acks, load.errors).unavailableS,
    acknowledged: load.acks.length,
    lost: await lostWrites(conn, load),
  };
}

/** Delete the leader's pod; returns once writes flow again and every member is back and healthy. */
export async function deleteLeaderPod(cluster: KubernetesCluster, deployed: DeployedPgHa, conn: PgConn): Promise<FaultResult> {
  const old = await deployed.leader();
  const r = await underWrites(conn, old.ip, async () => {
    const t0 = Date.now();
    await cluster.api.run(['delete', 'pod', '-n', deployed.namespace, old.name, '--wait=false']);
    const next = await newLeader(deployed, old.name, 60000);
    return { kind: 'pod-deleted', oldLeader: old.name, newLeader: next.name, t0 };
  });
  await deployed.waitHealthy(240000);
  log(`FAULT pod-deleted: ${r.oldLeader} -> ${r.newLeader}; first write after ${r.firstWriteS.toFixed(2)} s, ${r.unavailableS.toFixed(2)} s without writes, ${r.acknowledged} acknowledged, ${r.lost} lost`);
  return r;
}

/**
 * Kill the leader's whole node; once a new leader takes writes and the node is NotReady, record
 * what Kubernetes did with the node's StatefulSet pod; then start the node again and wait until its
 * member is back and the cluster healthy.
 */
export async function loseLeaderNode(cluster: KubernetesCluster, deployed: DeployedPgHa, conn: PgConn): Promise<FaultResult> {
  const old = await deployed.leader();
  const node = cluster.nodes.find((n) => n.name === old.node);
  if (!node) throw new Error(`the leader ${old.name} is on ${old.node}, not a node of the bed`);
  try {
    const r = await underWrites(conn, old.ip, async () => {
      const t0 = Date.now();
      await node.kill();
      const next = await newLeader(deployed, old.name, 120000);
      return { kind: 'node-lost', oldLeader: old.name, newLeader: next.name, t0 };
    });
    await waitFor(`node ${node.name} NotReady`, async () => {
      const n = await cluster.api.get(`/api/v1/nodes/${node.name}`);
      return n?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status !== 'True');
    }, { timeoutMs: 90000, intervalMs: 1000 });
    r.strandedPod = await waitFor(`pod ${old.name} not ready`, async () => {
      const p = (await deployed.pods(deployed.postgres)).find((x) => x.name === old.name);
      return p && !p.ready ? p : undefined;
    }, { timeoutMs: 60000, intervalMs: 1000 });
    const s = r.strandedPod;
    log(`FAULT node-lost: ${node.name} down; ${r.oldLeader} -> ${r.newLeader}; first write after ${r.firstWriteS.toFixed(2)} s, ${r.unavailableS.toFixed(2)} s without writes, ${r.acknowledged} acknowledged, ${r.lost} lost; `
      + `Kubernetes keeps pod ${s.name} on ${s.node} (phase ${s.phase}, ready ${s.ready}, deleting ${s.deleting}): its local volume is there and a StatefulSet keeps one pod per identity`);
    return r;
  } finally {
    if (!node.running) {
      await cluster.restartNode(node);
      await cluster.waitNodesReady(120000, [node]);
      const members = await deployed.waitHealthy(300000);
      log(`node ${node.name} back: ${members.map((m) => `${m.name} ${m.role} ${m.state}`).join(', ')}`);
    }
  }
}

export interface HeldDown {
  pods: string[];
  nodes: string[];
  /** uncordon the nodes; resolves once every held pod is scheduled again and ready */
  release(): Promise<void>;
}

/**
 * Keep pods down for as long as the test wants, the way a node under maintenance does: their nodes
 * cordoned, then the pods deleted (graceful, or after `gracePeriodS`). The StatefulSet recreates
 * each at once, but its local volume pins it to its cordoned node, so the new pod stays Pending.
 * Resolves once every old pod is gone and its successor is unscheduled.
 */
export async function holdDown(cluster: KubernetesCluster, deployed: DeployedPgHa, workload: KubeObject, names: string[], gracePeriodS?: number): Promise<HeldDown> {
  const before = (await deployed.pods(workload)).filter((p) => names.includes(p.name));
  const nodes = [...new Set(before.map((p) => p.node))];
  const uncordon = async () => {
    for (const n of nodes) await cluster.api.run(['uncordon', n]);
  };
  for (const n of nodes) await cluster.api.run(['cordon', n]);
  try {
    await cluster.api.run(['delete', 'pod', '-n', deployed.namespace, '--wait=false', ...(gracePeriodS !== undefined ? [`--grace-period=${gracePeriodS}`] : []), ...names]);
    await waitFor(`${names.join(', ')} deleted and left Pending`, async () => {
      const now = await deployed.pods(workload);
      return before.every((old) => {
        const p = now.find((x) => x.name === old.name);
        return !p || (p.uid !== old.uid && !p.node);
      });
    }, { timeoutMs: 90000, intervalMs: 250 });
  } catch (e) {
    await uncordon();
    throw e;
  }
  return {
    pods: names,
    nodes,
    release: async () => {
      await uncordon();
      await waitFor(`${names.join(', ')} ready again`, async () => {
        const now = await deployed.pods(workload);
        return names.every((n) => now.find((x) => x.name === n)?.ready);
      }, { timeoutMs: 180000, intervalMs: 500 });
    },
  };
}

/**
 * SIGTERM to PID 1 of one container of a pod (`kubectl exec ... kill 1`): the program stops, the
 * container exits and the kubelet restarts it in the same pod. Resolves once the kubelet counted
 * the restart; returns the time of the signal.
 */
export async function killContainer(cluster: KubernetesCluster, deployed: DeployedPgHa, workload: KubeObject, pod: LivePod, container: string): Promise<{ t0: number; restarts: number }> {
  const before = pod.restarts[container] ?? 0;
  const t0 = Date.now();
  // the exec session may end with the container: its exit code says nothing; the restart count does
  await cluster.api.kubectl(['exec', '-n', deployed.namespace, pod.name, '-c', container, '--', 'sh', '-c', 'kill -TERM 1'], undefined, 30000);
  const after = await waitFor(`${pod.name}/${container} restarted by the kubelet`, async () => {
    const p = (await deployed.pods(workload)).find((x) => x.name === pod.name);
    if (p && p.uid !== pod.uid) throw new Error(`${pod.name} was replaced, not restarted`);
    return p && (p.restarts[container] ?? 0) > before ? p.restarts[container] : undefined;
  }, { timeoutMs: 120000, intervalMs: 250 });
  return { t0, restarts: after };
}
