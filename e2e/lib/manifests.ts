/*
 * Reads the committed dist/ (every document of every *.yaml file) and
 * resolves what Kubernetes would: container environments (value, $(VAR)
 * expansion, fieldRef, secretKeyRef, configMapKeyRef, envFrom), command and
 * args expansion, volumes. Secret values come from the API stand-in's store
 * (the secrets Job creates them), kept in memory and in the bed's private run
 * directory only, never printed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = Record<string, any>;

export interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Obj;
}

export interface Container extends Obj {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: Obj[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>;
  readinessProbe?: Obj;
  livenessProbe?: Obj;
  startupProbe?: Obj;
  resources?: Obj;
}

export function loadDist(distDir: string): { objects: K8sObject[]; files: string[] } {
  const files = fs
    .readdirSync(distDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(distDir, f));
  if (!files.length) throw new Error(`no YAML files in ${distDir}`);
  const objects: K8sObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(f, 'utf8'))) {
      if (doc.errors.length) throw new Error(`${f}: ${doc.errors[0].message}`);
      const o = doc.toJS() as K8sObject | null;
      if (!o || typeof o !== 'object') continue;
      if (o.kind === 'List' && Array.isArray(o.items)) objects.push(...(o.items as K8sObject[]));
      else objects.push(o);
    }
  }
  return { objects, files };
}

export class Manifests {
  constructor(readonly objects: K8sObject[]) {}

  all(kind: string): K8sObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  find(kind: string, name: string): K8sObject | undefined {
    return this.objects.find((o) => o.kind === kind && o.metadata?.name === name);
  }

  get(kind: string, name: string): K8sObject {
    const o = this.find(kind, name);
    if (!o) throw new Error(`manifests: no ${kind} named ${name}`);
    return o;
  }

  ns(o: K8sObject): string {
    return o.metadata.namespace ?? 'default';
  }

  /** Every (secretName, key) referenced anywhere (secretKeyRef, secret volumes, envFrom secretRef). */
  secretRefs(): Array<{ name: string; key: string }> {
    const seen = new Map<string, { name: string; key: string }>();
    const walk = (v: any): void => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (!v || typeof v !== 'object') return;
      if (v.secretKeyRef && typeof v.secretKeyRef.name === 'string') {
        const r = { name: v.secretKeyRef.name, key: v.secretKeyRef.key };
        seen.set(`${r.name}/${r.key}`, r);
      }
      for (const k of Object.keys(v)) walk(v[k]);
    };
    for (const o of this.objects) if (o.kind !== 'Secret') walk(o);
    return [...seen.values()];
  }
}

/**
 * Secret values as pods read them: from the Secrets in the API stand-in's store (the secrets Job
 * creates the credentials there), never invented by the bed. A pod that references a Secret or
 * key that does not exist cannot start, as the kubelet's CreateContainerConfigError.
 */
export class SecretStore {
  constructor(private readonly lookup: (name: string) => Obj | undefined) {}

  private data(name: string): Record<string, string> {
    const s = this.lookup(name);
    if (!s) throw new Error(`Secret ${name} does not exist: a pod that references it cannot start (CreateContainerConfigError)`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(String(v), 'base64').toString('utf8');
    for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = String(v);
    return out;
  }

  get(name: string, key: string): string {
    const v = this.data(name)[key];
    if (v === undefined) throw new Error(`Secret ${name} has no key ${key} (keys: ${this.keysOf(name).join(', ')}): a pod that references it cannot start`);
    return v;
  }

  keysOf(name: string): string[] {
    return Object.keys(this.data(name));
  }

  has(name: string, key: string): boolean {
    return !!this.lookup(name) && this.data(name)[key] !== undefined;
  }
}

export interface PodIdentity {
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  serviceAccountName: string;
  nodeName: string;
  hostIP: string;
}

/** Kubernetes $(VAR) expansion: $$ escapes, unknown references stay as they are. */
export function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && Object.prototype.hasOwnProperty.call(env, name) ? env[name] : m;
  });
}

function fieldRef(fieldPath: string, pod: PodIdentity): string {
  const lab = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (lab) return (lab[1] === 'labels' ? pod.labels : pod.annotations)[lab[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return pod.name;
    case 'metadata.namespace':
      return pod.namespace;
    case 'metadata.uid':
      return `e2e-${pod.name}`;
    case 'status.podIP':
    case 'status.podIPs':
      return pod.ip;
    case 'status.hostIP':
    case 'status.hostIPs':
      return pod.hostIP;
    case 'spec.nodeName':
      return pod.nodeName;
    case 'spec.serviceAccountName':
      return pod.serviceAccountName;
    default:
      throw new Error(`fieldRef ${fieldPath} is not supported by the test bed`);
  }
}

function memToBytes(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) return NaN;
  const mult: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (mult[m[2]] ?? NaN);
}

export function memoryLimitBytes(c: Container): number | undefined {
  const l = c.resources?.limits?.memory;
  return l === undefined ? undefined : memToBytes(l);
}

/** The container's environment as the kubelet would build it. */
export function resolveEnv(c: Container, pod: PodIdentity, m: Manifests, secrets: SecretStore): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ef of c.envFrom ?? []) {
    const prefix = ef.prefix ?? '';
    if (ef.configMapRef) {
      const cm = m.find('ConfigMap', ef.configMapRef.name);
      if (!cm && !ef.configMapRef.optional) throw new Error(`envFrom: ConfigMap ${ef.configMapRef.name} missing`);
      for (const [k, v] of Object.entries(cm?.data ?? {})) env[prefix + k] = String(v);
    } else if (ef.secretRef) {
      if (ef.secretRef.optional && !secrets.has(ef.secretRef.name, secrets.keysOf(ef.secretRef.name)[0] ?? '')) continue;
      for (const k of secrets.keysOf(ef.secretRef.name)) env[prefix + k] = secrets.get(ef.secretRef.name, k);
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = expandVars(String(e.value), env);
    } else if (e.valueFrom?.fieldRef) {
      env[e.name] = fieldRef(e.valueFrom.fieldRef.fieldPath, pod);
    } else if (e.valueFrom?.secretKeyRef) {
      if (e.valueFrom.secretKeyRef.optional && !secrets.has(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key)) continue;
      env[e.name] = secrets.get(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
    } else if (e.valueFrom?.configMapKeyRef) {
      const r = e.valueFrom.configMapKeyRef;
      const cm = m.find('ConfigMap', r.name);
      const v = cm?.data?.[r.key];
      if (v === undefined) {
        if (r.optional) continue;
        throw new Error(`env ${e.name}: ConfigMap ${r.name} key ${r.key} missing`);
      }
      env[e.name] = String(v);
    } else if (e.valueFrom?.resourceFieldRef) {
      const r = e.valueFrom.resourceFieldRef;
      const [kind, res] = String(r.resource).split('.');
      const v = c.resources?.[kind]?.[res];
      env[e.name] = v === undefined ? '0' : String(v);
    } else {
      env[e.name] = '';
    }
  }
  return env;
}

/** Files a ConfigMap or Secret volume shows, as { relative path: content }. */
export function volumeFiles(vol: Obj, m: Manifests, secrets: SecretStore): Record<string, string> | undefined {
  const pick = (data: Record<string, string>, items?: Array<{ key: string; path: string }>): Record<string, string> => {
    if (!items) return data;
    const out: Record<string, string> = {};
    for (const it of items) out[it.path] = data[it.key];
    return out;
  };
  if (vol.configMap) {
    const cm = m.find('ConfigMap', vol.configMap.name);
    if (!cm) {
      if (vol.configMap.optional) return {};
      throw new Error(`volume ${vol.name}: ConfigMap ${vol.configMap.name} missing`);
    }
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(cm.data ?? {})) data[k] = String(v);
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) data[k] = Buffer.from(String(v), 'base64').toString('latin1');
    return pick(data, vol.configMap.items);
  }
  if (vol.secret) {
    const keys = vol.secret.items
      ? (vol.secret.items as Array<{ key: string }>).map((i) => i.key)
      : secrets.keysOf(vol.secret.secretName);
    const data: Record<string, string> = {};
    for (const k of keys) data[k] = secrets.get(vol.secret.secretName, k);
    return pick(data, vol.secret.items);
  }
  return undefined;
}
