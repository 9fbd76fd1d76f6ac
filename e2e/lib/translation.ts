/*
 * Kubernetes -> this host, for one container: the environment the kubelet
 * would build (service links, env, envFrom, secretKeyRef ...), then addresses
 * and paths translated. Every change is printed as `TRANSLATE <what>: <from>
 * -> <to>`, with every secret value masked.
 */
import type { AddressPlan } from './address-plan';
import type { LocalCluster } from './cluster';
import { PathMap } from './container-paths';
import { translation } from './log';
import { Container, expandVars, resolveEnv } from './manifests';
import type { LocalContainer, LocalPod } from './pod';

export class Translator {
  /** secret-derived env values, masked in every printed translation */
  private secretValues = new Set<string>();

  constructor(
    private readonly cluster: LocalCluster,
    private readonly addresses: AddressPlan,
  ) {}

  mask(s: string): string {
    let out = s;
    for (const v of this.secretValues) if (v.length >= 4) out = out.split(v).join('***');
    return out;
  }

  /** Print one translation (masked). */
  print(what: string, from: string, to: string): void {
    translation(what, this.mask(from), this.mask(to));
  }

  /** Name the local program that stands for the image's binary (printed when they differ). */
  program(c: LocalContainer, imageBinary: string, local: string): string {
    if (imageBinary !== local) this.print(`${c.scope} image ${c.spec.image}`, imageBinary, `${local} (Debian 13 root)`);
    return local;
  }

  /** Kubernetes' service-link variables for ClusterIP Services in the pod's namespace. */
  private serviceLinks(pod: LocalPod): Record<string, string> {
    // the API server's Service is in every pod's environment, whatever enableServiceLinks says
    const env: Record<string, string> = {
      KUBERNETES_SERVICE_HOST: this.addresses.apiAddress,
      KUBERNETES_SERVICE_PORT: '443',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      KUBERNETES_PORT: `tcp://${this.addresses.apiAddress}:443`,
    };
    if (pod.spec.enableServiceLinks === false) return env;
    for (const s of this.cluster.services) {
      if (!s.clusterIP || s.namespace !== pod.identity.namespace) continue;
      const n = s.name.toUpperCase().replace(/-/g, '_');
      const ports = s.obj.spec.ports ?? [];
      if (!ports.length) continue;
      env[`${n}_SERVICE_HOST`] = s.clusterIP;
      env[`${n}_SERVICE_PORT`] = String(ports[0].port);
      env[`${n}_PORT`] = `tcp://${s.clusterIP}:${ports[0].port}`;
      for (const p of ports) {
        const proto = (p.protocol ?? 'TCP').toUpperCase();
        if (p.name) env[`${n}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
        const pre = `${n}_PORT_${p.port}_${proto}`;
        env[pre] = `${proto.toLowerCase()}://${s.clusterIP}:${p.port}`;
        env[`${pre}_PROTO`] = proto.toLowerCase();
        env[`${pre}_PORT`] = String(p.port);
        env[`${pre}_ADDR`] = s.clusterIP;
      }
    }
    return env;
  }

  /** The container environment the kubelet would build, before translation. */
  containerEnv(pod: LocalPod, c: Container): Record<string, string> {
    const links = this.serviceLinks(pod);
    const own = resolveEnv(c, pod.identity, this.cluster.manifests, this.cluster.secrets);
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) this.secretValues.add(own[e.name]);
    return { HOSTNAME: pod.name, ...links, ...own };
  }

  /** Addresses in every value; values that are container paths under a mount -> the pod's directory. */
  env(pod: LocalPod, c: LocalContainer, env: Record<string, string>, paths: PathMap): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v0] of Object.entries(env)) {
      // a certificate's names (the secrets Job's ETCD_TLS_NAMES) -> the addresses clients use here
      let v = /TLS_NAMES$/.test(k)
        ? this.addresses.certificateNames(v0)
        : this.addresses.translate(v0, pod.ip, { listen: /LISTEN/i.test(k), hostVar: /HOST|ADDR|SERVER|ENDPOINT/i.test(k) });
      if (v.startsWith('/') && paths.mounts.some((mt) => v === mt.mountPath || v.startsWith(mt.mountPath.replace(/\/$/, '') + '/'))) v = paths.host(v);
      if (v !== v0) this.print(`${c.scope} env ${k}`, v0, v);
      out[k] = v;
    }
    return out;
  }

  /** $(VAR) expansion, then addresses and mount paths in every argument. */
  args(pod: LocalPod, c: LocalContainer, args: string[], env: Record<string, string>, paths: PathMap): string[] {
    return args.map((a0) => {
      let a = expandVars(a0, env);
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) {
        const flag = a.slice(0, eq);
        a = flag + '=' + this.addresses.translate(a.slice(eq + 1), pod.ip, { listen: /listen/i.test(flag) });
      } else a = this.addresses.translate(a, pod.ip);
      a = paths.rewriteText(a).text;
      if (a !== a0) this.print(`${c.scope} arg`, a0, a);
      return a;
    });
  }
}

/** The pod's and container's securityContext merged (container wins). */
export function securityContext(pod: LocalPod, c: LocalContainer): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return { ...(pod.spec.securityContext ?? {}), ...(c.spec.securityContext ?? {}) };
}
