/*
 * etcd: the image's /usr/local/bin/etcd -> the root's /usr/bin/etcd (3.5),
 * configured by the container's ETCD_* environment and args as written
 * (addresses and paths translated). Its probes (/livez, /readyz) run as
 * written: etcd 3.5 serves both.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { httpJson } from '../poll';
import type { LocalContainer, LocalPod, Launch } from '../pod';
import { securityContext } from '../translation';
import { chownTree, ProgramContext } from './context';

export function etcdLaunch(ctx: ProgramContext, pod: LocalPod, container: LocalContainer): Launch {
  const translator = ctx.translator;
  const paths = pod.pathsFor(container.name);
  const env = translator.env(pod, container, translator.containerEnv(pod, container.spec), paths);
  const cmd = container.spec.command ?? ['/usr/local/bin/etcd'];
  const args = translator.args(pod, container, [...cmd.slice(1), ...(container.spec.args ?? [])], env, paths);
  const dataDir = env.ETCD_DATA_DIR ?? path.join(paths.host('/var/lib/etcd'), `${pod.name}.etcd`);
  // the image has no USER (root); the pod's securityContext decides, fsGroup owns the volumes
  const security = securityContext(pod, container);
  const uid: number = security.runAsUser ?? 0;
  const gid: number = security.runAsGroup ?? security.fsGroup ?? uid;
  if (uid !== 0) translator.print(`${container.scope} user`, `runAsUser ${uid}`, `uid ${uid} (volumes chowned like fsGroup ${security.fsGroup ?? '-'})`);
  return {
    cmd: translator.program(container, cmd[0], '/usr/bin/etcd'),
    args,
    env: { PATH: '/usr/bin:/bin', ...env },
    uid,
    gid,
    cwd: pod.dir,
    prepare: () => {
      fs.mkdirSync(path.dirname(dataDir), { recursive: true });
      for (const mt of paths.mounts) chownTree(mt.hostPath, uid, gid);
    },
  };
}

/** The client URL a member advertises (its first ETCD_ADVERTISE_CLIENT_URLS entry). */
export function etcdClientUrl(pod: LocalPod): URL {
  const env = pod.containerOf('etcd').launch!.env;
  return new URL((env.ETCD_ADVERTISE_CLIENT_URLS ?? `http://${pod.ip}:2379`).split(',')[0]);
}

/**
 * Where a member answers /health without TLS or credentials: its plain metrics listener
 * (ETCD_LISTEN_METRICS_URLS), or its client URL when it has none and that is plain http.
 */
export function etcdHealthUrl(pod: LocalPod): URL {
  const env = pod.containerOf('etcd').launch!.env;
  const metrics = (env.ETCD_LISTEN_METRICS_URLS ?? '').split(',').find((u) => u.startsWith('http://'));
  return metrics ? new URL(metrics) : etcdClientUrl(pod);
}

/** `GET /health` of every member: true when it answers healthy. */
export async function etcdHealth(pods: LocalPod[]): Promise<boolean[]> {
  return Promise.all(
    pods.map(async (p) => {
      const u = etcdHealthUrl(p);
      const r = await httpJson<{ health: string }>(u.hostname, Number(u.port || 2379), '/health', 800);
      return r?.health === 'true';
    }),
  );
}

/** One member of `/v3/cluster/member/list`. */
export interface EtcdMember {
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

/** The CA a member's TLS files name (ETCD_PEER_TRUSTED_CA_FILE, mounted from its Secret), if it has one. */
export function etcdCaFile(pod: LocalPod): string | undefined {
  const file = pod.containerOf('etcd').launch!.env.ETCD_PEER_TRUSTED_CA_FILE;
  return file && fs.existsSync(file) ? file : undefined;
}

/** A client certificate and its key (files), as etcd's clients show it (`--client-cert-auth`). */
export interface EtcdClientCert {
  cert: string;
  key: string;
}

/** True when a member asks its clients for a certificate of the CA (ETCD_CLIENT_CERT_AUTH). */
export function etcdAsksClientCert(pod: LocalPod): boolean {
  return pod.containerOf('etcd').launch!.env.ETCD_CLIENT_CERT_AUTH === 'true';
}

/**
 * `curl` against a member's client port (the real client, as an operator would run it): `scheme`
 * and `port` default to the member's advertised client URL; `ca` verifies its certificate (false:
 * no CA given, so verification uses the system's store and must fail); `cert` is the client
 * certificate shown (none without it); `token` etcd's auth token.
 * Returns curl's exit code and the body (or curl's error).
 */
export function etcdCurl(pod: LocalPod, path: string, body: unknown, opts: { scheme?: 'http' | 'https'; ca?: string | false; cert?: EtcdClientCert; token?: string } = {}): { code: number; out: string } {
  const u = etcdClientUrl(pod);
  const scheme = opts.scheme ?? u.protocol.replace(':', '');
  const args = ['-sS', '--max-time', '5', '-X', 'POST', '-d', JSON.stringify(body)];
  if (opts.ca) args.push('--cacert', opts.ca);
  if (opts.cert) args.push('--cert', opts.cert.cert, '--key', opts.cert.key);
  if (opts.token) args.push('-H', `Authorization: ${opts.token}`);
  const r = spawnSync('curl', [...args, `${scheme}://${u.hostname}:${u.port || 2379}${path}`], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The members as etcd lists them (no credentials needed, the clients' certificate when given), asked over the first member's advertised URL. */
export function etcdMembers(pods: LocalPod[], cert?: EtcdClientCert): EtcdMember[] {
  const r = etcdCurl(pods[0], '/v3/cluster/member/list', {}, { ca: etcdCaFile(pods[0]), cert });
  if (r.code !== 0) throw new Error(`member list: curl exit ${r.code}: ${r.out}`);
  return (JSON.parse(r.out).members as Array<Partial<EtcdMember>>).map((m) => ({ name: m.name ?? '', peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [] }));
}
