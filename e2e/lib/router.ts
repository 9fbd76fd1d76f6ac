/*
 * What the router's haproxy.cfg (from the ConfigMap) says: which bind port
 * is the write port (health check on /primary, /master, /leader,
 * /read-write or bare OPTIONS /), which is the read port (/replica,
 * /read-only, /async, /sync ...), whether the read side falls back to the
 * leader (a `backup` server, or /read-only), and the stats and metrics
 * endpoints. Then the Services that expose those ports.
 */
import type { LocalService } from './cluster';
import { Container } from './manifests';
import { haproxyPlan, HaproxyPlan } from './kubernetes/haproxy-plan';
import type { Testbed } from './testbed';

export { haproxyPlan, HaproxyPlan };

export interface RouterPlan extends HaproxyPlan {
  writeService: { name: string; host: string; port: number };
  readService: { name: string; host: string; port: number };
  statsService?: { name: string; host: string; port: number };
  metricsService?: { name: string; host: string; port: number };
}


export function routerPlan(bed: Testbed): RouterPlan {
  const pod = bed.routerPods[0];
  if (!pod) throw new Error('no router pods (no HAProxy workload in the manifests)');
  const c = pod.containerOf('haproxy');
  const vols = (pod.spec.volumes ?? []) as Array<{ name: string; configMap?: { name: string } }>;
  const mount = (c.spec as Container).volumeMounts?.find((vm) => vols.find((v) => v.name === vm.name)?.configMap);
  const cm = bed.manifests.get('ConfigMap', vols.find((v) => v.name === mount?.name)!.configMap!.name);
  const cfg = Object.values(cm.data as Record<string, string>).find((v) => /\bbind\b/.test(v))!;
  const { writePort, readPort, readFallsBackToLeader, stats, metrics, checkPaths, writeProxy, readProxy } = haproxyPlan(cfg);
  const svcFor = (port: number): { name: string; host: string; port: number } | undefined => {
    for (const s of bed.cluster.services as LocalService[]) {
      if (!s.clusterIP || !bed.cluster.selects(s.obj, pod)) continue;
      for (const sp of s.obj.spec.ports ?? []) {
        if (c.port(sp.targetPort ?? sp.port) === port) return { name: s.name, host: s.clusterIP, port: sp.port };
      }
    }
    return undefined;
  };
  const writeService = svcFor(writePort);
  const readService = svcFor(readPort);
  if (!writeService || !readService) throw new Error('no Service exposes the router write/read ports');
  return {
    writePort,
    readPort,
    readFallsBackToLeader,
    stats,
    metrics,
    writeService,
    readService,
    statsService: stats && svcFor(stats.port),
    metricsService: metrics && svcFor(metrics.port),
    checkPaths,
    writeProxy,
    readProxy,
  };
}
