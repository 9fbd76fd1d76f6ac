import { readFileSync, readdirSync, statSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { CREDENTIAL_KEYS } from '../lib';
import { container, envOf, Manifest, podTemplates, synth } from './support/synth';

const root = join(__dirname, '..');

describe('generated credentials (default)', () => {
  const s = synth();
  // Named after its content (pg-ha-secrets-<hash>) so a changed Job never fails `kubectl apply`.
  const job = s.all('Job').find((j) => j.metadata.name.startsWith('pg-ha-secrets-'))!;
  const env = envOf(container(job, 'create-secret'));

  test('no Secret object is synthesized: passwords are created in the cluster, never in git', () => {
    expect(s.all('Secret')).toEqual([]);
  });

  test('a Job creates the Secret with every key the pods reference', () => {
    expect(env.SECRET_NAME.value).toBe('pg-ha-credentials');
    expect(env.SECRET_KEYS.value.split(',')).toEqual(Object.values(CREDENTIAL_KEYS));
    expect(container(job, 'create-secret').command).toEqual(['python3', '/scripts/create-secret.py']);
    expect(s.get('ConfigMap', 'pg-ha-secrets').data['create-secret.py']).toContain("status, existing = api('GET'");
  });

  test('the generator never overwrites: it creates only when GET answers 404 and treats 409 as done', () => {
    const script: string = s.get('ConfigMap', 'pg-ha-secrets').data['create-secret.py'];
    expect(script).not.toMatch(/'(PUT|PATCH|DELETE)'/);
    expect(script).toContain('if status != 404:');
    expect(script).toContain('elif status == 409:');
    expect(script).toContain('secrets.token_urlsafe(32)');
  });

  test('its ServiceAccount may create Secrets and read only this one; no other pod gets that right', () => {
    const role = s.get('Role', 'pg-ha-secrets');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-credentials'], verbs: ['get'] },
    ]);
    const secretRoles = s.all('Role').filter((r) => r.rules.some((rule: Manifest) => rule.resources.includes('secrets')));
    expect(secretRoles.map((r) => r.metadata.name)).toEqual(['pg-ha-secrets']);
  });

  test('it talks to the API server with the mounted CA (TLS verified), as a non-root user', () => {
    const script: string = s.get('ConfigMap', 'pg-ha-secrets').data['create-secret.py'];
    expect(script).toContain("ssl.create_default_context(cafile=f'{SA_DIR}/ca.crt')");
    expect(job.spec.template.spec.automountServiceAccountToken).toBe(true);
    expect(job.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
  });
});

describe('existing Secret', () => {
  const s = synth({ existingSecret: 'team-pg-passwords' });

  test('no generator Job, Role or ServiceAccount', () => {
    expect(s.all('Job').map((j) => j.metadata.name).filter((n) => n.startsWith('pg-ha-secrets'))).toEqual([]);
    expect(s.all('Role').map((r) => r.metadata.name)).not.toContain('pg-ha-secrets');
  });

  test('every secretKeyRef points at the existing Secret', () => {
    const refs = podTemplates(s.manifests).flatMap(({ template }) => template.spec.containers.flatMap((c: Manifest) => c.env ?? []))
      .filter((e: Manifest) => e.valueFrom?.secretKeyRef);
    expect(refs.length).toBe(6);
    for (const ref of refs) expect(ref.valueFrom.secretKeyRef.name).toBe('team-pg-passwords');
  });
});

describe('no password anywhere in the repository', () => {
  // Catches a quoted password assignment, an env-style PGPASSWORD assignment and connection URIs with user:pass@.
  const literal = /(pass(word)?|pwd)["']?\s*[:=]\s*["'](?!\/)[^"'$\s{}]{3,}["']|(PGPASSWORD|_PASSWORD|_PASS)=[^\s$"'`{]+|postgres(ql)?:\/\/[^:/\s]+:[^@/\s$]+@/i;
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    if (['node_modules', '.git', 'imports', 'crds'].includes(name)) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });

  test('committed dist/ has no Secret data and no literal value for a password variable', () => {
    for (const file of readdirSync(join(root, 'dist'))) {
      for (const doc of parseAllDocuments(readFileSync(join(root, 'dist', file), 'utf8'))) {
        const m = doc.toJS() as Manifest;
        expect([file, m.kind === 'Secret' && (m.data || m.stringData)]).toEqual([file, false]);
        for (const { template } of podTemplates([m])) {
          for (const c of template.spec.containers) {
            for (const e of c.env ?? []) {
              if (/PASS/.test(e.name)) expect([e.name, e.value]).toEqual([e.name, undefined]);
            }
          }
        }
      }
    }
  });

  test('no source, test or doc file assigns a password literal', () => {
    const offenders = files(root)
      .filter((f) => /\.(ts|js|json|ya?ml|md|sh|sql|py|env|cfg)$/.test(f) && !f.endsWith('package-lock.json'))
      .filter((f) => literal.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  test('the literal check itself catches a password', () => {
    expect(literal.test('adminPass' + "word: 'zalando'")).toBe(true);
    expect(literal.test('PGPASS' + 'WORD=cola psql')).toBe(true);
    expect(literal.test('postgresql://app:' + 's3cret@pg-ha-rw:5432/app')).toBe(true);
    expect(literal.test('PGPASSWORD="$(kubectl get secret ...)"')).toBe(false);
    expect(literal.test("pgpass: '/run/postgresql/pgpass'")).toBe(false); // a file path, not a password
  });
});
