/*
 * What the ServiceAccount admission controller and the kubelet give a pod: with
 * automountServiceAccountToken (the pod's, else its ServiceAccount's, default true) a projected
 * `kube-api-access` volume at /var/run/secrets/kubernetes.io/serviceaccount in every container;
 * projected volumes hold the account's token (from the API stand-in), the stand-in's CA as
 * `kube-root-ca.crt` and downward API fields.
 */
import type { KubeApiServer } from './kube/api-server';
import type { ObjectStore } from './kube/object-store';
import { Container, Manifests, Obj, PodIdentity, SecretStore, volumeFiles } from './manifests';
import type { Translator } from './translation';

const SA_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's volumes and (copied) containers with the automounted token volume added where Kubernetes adds it. */
export function withServiceAccountVolume(spec: Obj, identity: PodIdentity, store: ObjectStore): { volumes: Obj[]; containers: Container[] } {
  const volumes: Obj[] = [...(spec.volumes ?? [])];
  const automount = spec.automountServiceAccountToken ?? store.get('ServiceAccount', identity.namespace, identity.serviceAccountName)?.automountServiceAccountToken ?? true;
  // copies: the added mount must not change the applied object (the apply engine compares it)
  const containers = ([...(spec.initContainers ?? []), ...spec.containers] as Container[]).map((c) => ({ ...c, volumeMounts: [...(c.volumeMounts ?? [])] }));
  if (automount && !containers.some((c) => c.volumeMounts.some((vm) => vm.mountPath === SA_MOUNT))) {
    volumes.push({ name: 'kube-api-access-auto', projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }, { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } }] } });
    for (const c of containers) c.volumeMounts.push({ name: 'kube-api-access-auto', mountPath: SA_MOUNT, readOnly: true });
  }
  return { volumes, containers };
}

/** A projected volume's files: the ServiceAccount token from the API stand-in, its CA as kube-root-ca.crt, ConfigMaps, Secrets, downward API fields. */
export function projectedFiles(v: Obj, identity: PodIdentity, bed: { api: KubeApiServer; manifests: Manifests; secrets: SecretStore; translator: Translator }): Record<string, string> {
  const files: Record<string, string> = {};
  for (const src of v.projected.sources ?? []) {
    if (src.serviceAccountToken) files[src.serviceAccountToken.path] = bed.api.tokenFor(identity.namespace, identity.serviceAccountName);
    else if (src.configMap?.name === 'kube-root-ca.crt') for (const it of src.configMap.items ?? [{ key: 'ca.crt', path: 'ca.crt' }]) files[it.path] = bed.api.caCert;
    else if (src.configMap || src.secret) Object.assign(files, volumeFiles(src.configMap ? { configMap: src.configMap } : { secret: { ...src.secret, secretName: src.secret.name } }, bed.manifests, bed.secrets));
    else if (src.downwardAPI) {
      for (const it of src.downwardAPI.items ?? []) {
        const f = it.fieldRef?.fieldPath;
        files[it.path] = f === 'metadata.namespace' ? identity.namespace : f === 'metadata.name' ? identity.name : f === 'metadata.labels' ? Object.entries(identity.labels).map(([k, val]) => `${k}="${val}"`).join('\n') : '';
      }
    }
  }
  bed.translator.print(`pod ${identity.name} volume ${v.name}`, 'projected ServiceAccount token, kube-root-ca.crt, downward API', `files from the API stand-in (token of ServiceAccount ${identity.serviceAccountName}, its CA)`);
  return files;
}
