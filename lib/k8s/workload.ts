/** Pod, container and StatefulSet fields every component writes the same way. */
import { createHash } from 'crypto';
import { k8s } from 'cdk8s-plus-28';

/** An env var from a field of the pod itself (`metadata.name`, `status.podIP`, ...). */
export function fieldEnv(name: string, fieldPath: string): k8s.EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** An env var from a key of a Secret. */
export function secretEnv(name: string, secretName: string, key: string): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** Plain env vars from a record, in the record's order. */
export function plainEnv(values: Record<string, string | number>): k8s.EnvVar[] {
  return Object.entries(values).map(([name, value]) => ({ name, value: String(value) }));
}

/**
 * A literal text as an env value: the kubelet reads `$(VAR)` as a reference and `$$` as `$` in every
 * value, so each `$` is written `$$` (the container gets the text as it is).
 */
export function kubeletLiteral(text: string): string {
  return text.replace(/\$/g, '$$$$');
}

/** Service ports that target the container ports of the same names, in the given order. */
export function namedServicePorts(ports: Record<string, number>): k8s.ServicePort[] {
  return Object.entries(ports).map(([name, port]) => ({ name, port, targetPort: k8s.IntOrString.fromString(name) }));
}

/** An HTTP GET probe on a named or numbered port. */
export function httpProbe(path: string, port: number | string, timing: Partial<k8s.Probe> = {}): k8s.Probe {
  return {
    httpGet: { path, port: typeof port === 'number' ? k8s.IntOrString.fromNumber(port) : k8s.IntOrString.fromString(port) },
    ...timing,
  };
}

/** A short, stable content hash, for rollout annotations and content-addressed names. */
export function contentHash(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 10);
}

/** Persistent volume claim template for a StatefulSet. */
export function volumeClaimTemplate(name: string, size: string, storageClassName?: string): k8s.KubePersistentVolumeClaimProps {
  return {
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(storageClassName ? { storageClassName } : {}),
      resources: { requests: { storage: k8s.Quantity.fromString(size) } },
    },
  };
}

/**
 * StatefulSet fields etcd and Postgres share: members start in parallel (each component says why),
 * are replaced one at a time (`RollingUpdate` by the controller, or `OnDelete` when a Job decides the
 * order), and keep their volumes when the set is deleted or scaled down.
 */
export function memberSetSpec(serviceName: string, replicas: number, selector: Record<string, string>, updateStrategy: 'RollingUpdate' | 'OnDelete') {
  return {
    serviceName,
    replicas,
    podManagementPolicy: 'Parallel',
    updateStrategy: { type: updateStrategy },
    selector: { matchLabels: selector },
    persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
  };
}

/**
 * A StatefulSet whose volumeClaimTemplates carry `apiVersion: v1` and `kind: PersistentVolumeClaim`.
 * The API server stores them, so without them Argo CD reports the StatefulSet OutOfSync forever.
 * (A JSON patch cannot add them: the generated class drops fields its props type does not know.)
 */
export class StatefulSetWithTypedClaims extends k8s.KubeStatefulSet {
  /**
   * The volumeClaimTemplates of the running StatefulSet, written out verbatim instead of the ones
   * built from the settings (they are immutable; see lib/k8s/claim-templates.ts).
   */
  public deployedClaimTemplates?: unknown[];

  public toJson(): any {
    const json = super.toJson();
    const templates: Array<Record<string, unknown>> = json.spec?.volumeClaimTemplates ?? [];
    json.spec.volumeClaimTemplates = this.deployedClaimTemplates
      ?? templates.map((t) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', ...t }));
    return json;
  }
}

/**
 * The exit status of a Job's script for a refusal no retry can fix (a wrong configuration: REFUSED in
 * etcd-access.py and converge_patroni.py).
 */
export const REFUSED_EXIT_CODE = 3;

/**
 * A Job's podFailurePolicy that fails the Job, and so the sync, at once when `container` exits with
 * REFUSED_EXIT_CODE; any other failure is retried up to the Job's backoffLimit. Needs the pod's
 * restartPolicy Never (the API server refuses it otherwise). onPodConditions, required by the 1.28
 * schema of cdk8s-plus-28, is left out: a rule takes one of onExitCodes and onPodConditions.
 */
export function failAtOnceOnRefusal(container: string): k8s.PodFailurePolicy {
  return { rules: [{ action: 'FailJob', onExitCodes: { containerName: container, operator: 'In', values: [REFUSED_EXIT_CODE] } } as k8s.PodFailurePolicyRule] };
}
