/*
 * The CPU time a pod, or one container of it, has used, read from the kubelet's cgroups (v1,
 * cgroupfs driver): `cpuacct/<node's cgroup root>/kubepods[/<qos>]/pod<uid>[/<container id>]`.
 * A container's cgroup holds every process of it (HAProxy's threads, PostgreSQL's backends, ...),
 * so its `cpuacct.usage` counts all of them, exited ones included.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { KubernetesCluster } from './cluster';
import { resourcePath } from './kube-client';

const CPUACCT = '/sys/fs/cgroup/cpuacct';

/** The cgroup directory of a pod (no container) or of one of its containers, as the kubelet made it. */
export async function cpuCgroup(cluster: KubernetesCluster, namespace: string, podName: string, container?: string): Promise<string> {
  const pod = await cluster.api.get(`${resourcePath('pods', namespace)}/${podName}`);
  if (!pod) throw new Error(`pod ${namespace}/${podName} does not exist`);
  const node = cluster.nodes.find((n) => n.name === pod.spec.nodeName);
  if (!node) throw new Error(`pod ${podName} runs on ${pod.spec.nodeName}, not a node of the bed`);
  const podDir = ['', 'burstable', 'besteffort']
    .map((qos) => path.join(CPUACCT, node.cgroupRoot, 'kubepods', qos, `pod${pod.metadata.uid}`))
    .find((d) => fs.existsSync(d));
  if (!podDir) throw new Error(`no cpuacct cgroup for pod ${podName} (uid ${pod.metadata.uid}) under ${path.join(CPUACCT, node.cgroupRoot, 'kubepods')}`);
  if (container === undefined) return podDir;
  const status = ((pod.status?.containerStatuses ?? []) as Array<{ name: string; containerID?: string }>).find((c) => c.name === container);
  const id = status?.containerID?.replace(/^[a-z]+:\/\//, '');
  if (!id) throw new Error(`pod ${podName} has no running container ${container}`);
  const dir = path.join(podDir, id);
  if (!fs.existsSync(dir)) throw new Error(`no cpuacct cgroup ${dir} for ${podName}/${container}`);
  return dir;
}

/** CPU seconds (user + system) used so far by the processes of a cgroup and its children. */
export function cgroupCpuSeconds(dir: string): number {
  return Number(fs.readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e9;
}
