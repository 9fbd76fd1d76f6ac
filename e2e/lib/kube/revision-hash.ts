/*
 * Revision names of workload pod templates.
 * `controller-revision-hash` / StatefulSet `status.updateRevision` is `<sts-name>-<hash>` and a
 * Deployment's ReplicaSet is `<deploy-name>-<pod-template-hash>`. This MIRRORS, it does not EQUAL,
 * the controllers' hash: they hash the whole ControllerRevision / template with FNV-32a (plus a
 * collision count) and encode it in their own alphabet; here it is SHA-256 of the template in
 * canonical JSON (keys sorted), in that same alphabet. What matters is what clients rely on:
 * same template -> same name, changed template -> new name, label value == status field.
 */
import * as crypto from 'crypto';

/* eslint-disable @typescript-eslint/no-explicit-any */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'; // the alphabet of k8s.io/apimachinery/pkg/util/rand.SafeEncodeString

export function canonicalJson(v: any): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function templateHash(template: any): string {
  const digest = crypto.createHash('sha256').update(canonicalJson(template ?? {})).digest();
  let out = '';
  for (let i = 0; i < 10; i++) out += ALPHABET[digest[i] % ALPHABET.length];
  return out;
}

/** `status.updateRevision` of a StatefulSet, and the `controller-revision-hash` label of its pods made from this template. */
export function statefulSetRevision(sts: { metadata: { name: string }; spec?: any }): string {
  return `${sts.metadata.name}-${templateHash(sts.spec?.template)}`;
}

/** The `pod-template-hash` label of a Deployment's pods (its ReplicaSet is `<name>-<hash>`). */
export function deploymentTemplateHash(deploy: { metadata: { name: string }; spec?: any }): string {
  return templateHash(deploy.spec?.template);
}
