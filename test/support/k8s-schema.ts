/**
 * Validates Kubernetes objects against the vendored Kubernetes 1.28 definitions (schemas/) and the
 * openAPIV3Schema of every vendored CRD (crds/), strictly: an unknown or misspelled field is an
 * error, as `kubectl apply --validate=strict` (server-side field validation) would report it.
 *
 * Uses ajv (the JSON Schema validator most of the npm ecosystem uses). kubernetes-models@4.5.1 was
 * tried first: it checks types but accepts unknown fields, so it would not catch a typo.
 */
import { readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const K8S_ID = 'k8s';
const OBJECT_META = `${K8S_ID}#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`;

/**
 * Adds `additionalProperties: false` to every object schema that lists its properties and says
 * nothing about other ones. Kubernetes' structural schemas mean exactly that (the API server prunes
 * or, with strict field validation, rejects unknown fields) unless `x-kubernetes-preserve-unknown-fields`.
 */
function strict(node: any): any {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const out: any = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, key === 'properties'
    ? Object.fromEntries(Object.entries(value as object).map(([p, s]) => [p, strict(s)]))
    : strict(value)]));
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

/**
 * CRD patterns are Go (RE2) regular expressions; the only RE2-only syntax in the vendored CRDs is the
 * case-insensitive flag group `(?i)`, which JavaScript spells as the `i` flag.
 */
const goRegExp = Object.assign(
  (pattern: string, flags: string) => (pattern.includes('(?i)')
    ? new RegExp(pattern.split('(?i)').join(''), `${flags}i`)
    : new RegExp(pattern, flags)),
  { code: 'goRegExp' },
);

/** A validator for every kind we know, keyed by `apiVersion/kind`. */
export class KubernetesSchemas {
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: goRegExp } });
    const k8s = JSON.parse(readFileSync(join(ROOT, 'schemas', 'k8s-v1.28.0-definitions.json'), 'utf8'));
    const definitions = strict(k8s.definitions);
    // The 1.28 OpenAPI marks a PodFailurePolicyRule's onPodConditions required, but a rule takes
    // onExitCodes or onPodConditions, not both: the API server refuses both ("Specifying both
    // OnExitCodes and OnPodConditions is not supported"; 1.28 counts an empty list as given), and
    // later releases' definitions make it optional. Validate as the API server does.
    const rule = definitions['io.k8s.api.batch.v1.PodFailurePolicyRule'];
    rule.required = rule.required.filter((f: string) => f !== 'onPodConditions');
    this.ajv.addSchema({ $id: K8S_ID, definitions });
    for (const [name, def] of Object.entries<any>(definitions)) {
      for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
        const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
        this.validators.set(`${apiVersion}/${gvk.kind}`, this.ajv.compile({ $ref: `${K8S_ID}#/definitions/${name}` }));
      }
    }
    const crdDir = join(ROOT, 'crds');
    for (const file of readdirSync(crdDir).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(join(crdDir, file), 'utf8'))) {
        const crd = doc.toJS();
        if (crd?.kind !== 'CustomResourceDefinition') continue;
        for (const version of crd.spec.versions ?? []) {
          const schema = version.schema?.openAPIV3Schema;
          if (!schema) continue;
          const root = strict(schema);
          // A CRD's schema only says `metadata: {type: object}`; the API server checks ObjectMeta.
          root.properties.metadata = { $ref: OBJECT_META };
          root.required = [...new Set([...(root.required ?? []), 'apiVersion', 'kind', 'metadata'])];
          this.validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, this.ajv.compile(root));
        }
      }
    }
  }

  /** The `apiVersion/kind` pairs with a schema. */
  public get kinds(): string[] {
    return [...this.validators.keys()];
  }

  /** Problems with `object`, as readable lines; empty when it is valid. */
  public validate(object: any): string[] {
    const key = `${object?.apiVersion}/${object?.kind}`;
    const validator = this.validators.get(key);
    const where = `${object?.kind ?? '?'} ${object?.metadata?.name ?? '?'}`;
    if (!validator) return [`${where}: no schema for ${key} (vendor it: scripts/vendor-k8s-schemas.ts or crds/)`];
    if (validator(object)) return [];
    return (validator.errors ?? []).map((e) => `${where}: ${describe(e)}`);
  }
}

function describe(error: ErrorObject): string {
  const path = error.instancePath || '/';
  if (error.keyword === 'additionalProperties') {
    return `${path}: unknown field "${(error.params as { additionalProperty: string }).additionalProperty}"`;
  }
  return `${path}: ${error.message}`;
}

