/*
 * The kubelet's prober: readiness and liveness probes (httpGet, tcpSocket)
 * with the manifests' periods and thresholds. Readiness decides Service
 * endpoints and DNS records; a failed liveness probe restarts the container.
 */
import type { LocalCluster } from './cluster';
import { log } from './log';

export class KubeletProber {
  private timer?: NodeJS.Timeout;

  constructor(private readonly cluster: LocalCluster) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    const cluster = this.cluster;
    for (const pod of cluster.pods) {
      for (const c of pod.containers) {
        if (!c.running) continue;
        if (!c.probes.some((p) => p.kind === 'readiness') && !c.ready) {
          c.ready = true;
          cluster.onChange();
        }
        for (const ps of c.probes) {
          if (ps.inFlight || now < ps.nextAt) continue;
          ps.inFlight = true;
          ps.nextAt = now + (ps.spec.periodSeconds ?? 10) * 1000;
          const proc = c.proc;
          void c.runProbe(ps).then((ok) => {
            ps.inFlight = false;
            if (c.proc !== proc || cluster.stopping) return;
            if (ok) {
              ps.successes++;
              ps.failures = 0;
            } else {
              ps.failures++;
              ps.successes = 0;
            }
            if (ps.kind === 'readiness') {
              const was = c.ready;
              if (ok && ps.successes >= (ps.spec.successThreshold ?? 1)) c.ready = true;
              if (!ok && ps.failures >= (ps.spec.failureThreshold ?? 3)) c.ready = false;
              if (was !== c.ready) {
                log(`pod ${pod.name}: container ${c.name} ${c.ready ? 'ready' : 'NOT ready'} (readiness probe)`);
                cluster.onChange();
              }
            } else if (!ok && ps.failures >= (ps.spec.failureThreshold ?? 3) && c.wanted) {
              log(`pod ${pod.name}: liveness probe failed ${ps.failures} times: kubelet restarts container ${c.name}`);
              ps.failures = 0;
              const grace = ps.spec.terminationGracePeriodSeconds !== undefined ? ps.spec.terminationGracePeriodSeconds * 1000 : pod.graceMs;
              void c.stop('SIGTERM', grace, false);
            }
          });
        }
      }
    }
  }
}
