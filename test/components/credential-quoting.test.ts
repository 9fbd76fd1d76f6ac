/**
 * Every credential reaches its program intact, whatever printable characters it holds: the places
 * where the manifests paste a Secret's text into another language. SPILO_CONFIGURATION is YAML that
 * the kubelet fills in (`$(VAR)`) and Spilo parses with PyYAML: each password must come out as the
 * Secret holds it, for both parsers (the e2e bed's `yaml` and PyYAML), and nothing else may change.
 * The other programs get a credential as a variable of its own (libpq's and lib/pq's PGPASSWORD,
 * init.sql's \getenv), never inside a string of another syntax.
 */
import { spawnSync } from 'child_process';
import { parse } from 'yaml';
import { yamlEnvBlockScalar } from '../../lib/components/postgres/patroni-config';
import { kubeletLiteral } from '../../lib/k8s/workload';
import { containersOf, envOf, Manifest } from '../support/manifests';
import { HARD_CREDENTIALS, kubeletExpand, PRINTABLE_ASCII } from '../support/credential-text';
import { synth } from '../support/synth';

/** PyYAML's safe_load (what Spilo's configure_spilo.py uses) of each document, as JSON. */
function pyyamlLoadAll(docs: string[]): unknown[] {
  const program = 'import json, sys, yaml; print(json.dumps([yaml.safe_load(d) for d in json.load(sys.stdin)]))';
  const e2eRoot = process.env.PG_HA_E2E_ROOT ?? '/var/cache/pg-ha-e2e/trixie';
  // The host's python3 with PyYAML, else the e2e root's (python3-yaml comes with Patroni there).
  for (const argv of [['python3', '-c', program], ['chroot', e2eRoot, 'python3', '-c', program]]) {
    const r = spawnSync(argv[0], argv.slice(1), { input: JSON.stringify(docs), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status === 0) return JSON.parse(r.stdout);
  }
  throw new Error('no python3 with PyYAML (install python3-yaml, or run scripts/e2e-install.sh as root)');
}

describe('SPILO_CONFIGURATION: credentials as YAML block scalars the kubelet fills in', () => {
  const s = synth();
  const spilo = containersOf(s.get('StatefulSet', 'pg-ha').spec.template.spec).find((c: Manifest) => c.name === 'postgres');
  const env = envOf(spilo);
  const template: string = env.SPILO_CONFIGURATION.value;
  const names = (spilo.env as Manifest[]).map((e) => e.name);
  const vars = { rest: 'REST_API_PASSWORD', superuser: 'PGPASSWORD_SUPERUSER', replication: 'PGPASSWORD_STANDBY' } as const;

  test('each password is a $(VAR) of its own Secret key, defined before SPILO_CONFIGURATION', () => {
    expect(env.REST_API_PASSWORD.valueFrom.secretKeyRef.key).toBe('patroni-api-password');
    expect(env.PGPASSWORD_SUPERUSER.valueFrom.secretKeyRef.key).toBe('superuser-password');
    expect(env.PGPASSWORD_STANDBY.valueFrom.secretKeyRef.key).toBe('replication-password');
    for (const v of Object.values(vars)) {
      expect(template).toContain(`|2-\n`);
      expect(template).toContain(`$(${v})`);
      expect(names.indexOf(v)).toBeLessThan(names.indexOf('SPILO_CONFIGURATION'));
    }
  });

  test('filled in with any printable characters, both parsers read exactly the Secret\'s text and the rest unchanged', () => {
    const dynamic = '{"ttl":30,"loop_wait":10}';
    const reference = parse(kubeletExpand(template, { BOOTSTRAP_DYNAMIC_CONFIG: dynamic, REST_API_PASSWORD: 'r', PGPASSWORD_SUPERUSER: 's', PGPASSWORD_STANDBY: 't' }));
    const cases = HARD_CREDENTIALS.map((text, i) => ({
      rest: text, superuser: `${HARD_CREDENTIALS[(i + 1) % HARD_CREDENTIALS.length]}`, replication: `${HARD_CREDENTIALS[(i + 2) % HARD_CREDENTIALS.length]}`,
    }));
    const docs = cases.map((c) => kubeletExpand(template, {
      BOOTSTRAP_DYNAMIC_CONFIG: dynamic, REST_API_PASSWORD: c.rest, PGPASSWORD_SUPERUSER: c.superuser, PGPASSWORD_STANDBY: c.replication,
    }));
    const byPyYaml = pyyamlLoadAll(docs);
    docs.forEach((doc, i) => {
      for (const parsed of [parse(doc), byPyYaml[i]] as any[]) {
        expect(parsed.restapi.authentication).toEqual({ username: 'patroni', password: cases[i].rest });
        expect(parsed.postgresql.authentication).toEqual({ superuser: { password: cases[i].superuser }, replication: { password: cases[i].replication } });
        expect({ ...parsed, restapi: undefined, postgresql: { ...parsed.postgresql, authentication: undefined } })
          .toEqual({ ...reference, restapi: undefined, postgresql: { ...reference.postgresql, authentication: undefined } });
      }
    });
  });

  test('a quoted scalar, as before, breaks on " and \\ (the reason for block scalars)', () => {
    const quoted = (text: string) => parse(`password: "${text}"`).password;
    expect(() => quoted('a"b')).toThrow();
    expect(quoted('a\\tb')).not.toBe('a\\tb');
    expect(parse(`x:\n${yamlEnvBlockScalar('  ', 'password', 'P')}`.replace('$(P)', 'a"b\\tc')).x.password).toBe('a"b\\tc');
  });

  test('the block keeps leading and trailing spaces and every printable character', () => {
    const block = (text: string) => parse(`a:\n${yamlEnvBlockScalar('  ', 'k', 'V')}\nb: 1\n`.replace('$(V)', text));
    for (const text of ['  two leading', 'two trailing  ', PRINTABLE_ASCII]) expect(block(text)).toEqual({ a: { k: text }, b: 1 });
  });
});

describe('no other credential is pasted into another syntax', () => {
  const s = synth({ pooler: { enabled: true, read: true } });

  test('no env value of any container refers to a Secret-backed variable with $(VAR), except SPILO_CONFIGURATION', () => {
    for (const workload of [...s.all('StatefulSet'), ...s.all('Deployment'), ...s.all('Job')]) {
      for (const c of containersOf(workload.spec.template.spec)) {
        const secretVars = (c.env ?? []).filter((e: Manifest) => e.valueFrom?.secretKeyRef).map((e: Manifest) => e.name as string);
        for (const e of (c.env ?? []) as Manifest[]) {
          if (e.name === 'SPILO_CONFIGURATION' || typeof e.value !== 'string') continue;
          for (const v of secretVars) expect(`${workload.metadata.name}/${c.name}/${e.name}: ${e.value.includes(`$(${v})`)}`).toBe(`${workload.metadata.name}/${c.name}/${e.name}: false`);
        }
      }
    }
  });

  test('the exporters take the password as PGPASSWORD, which their driver (lib/pq) reads, never in a connection string', () => {
    const member = envOf(containersOf(s.get('StatefulSet', 'pg-ha').spec.template.spec).find((c: Manifest) => c.name === 'exporter'));
    expect(member.PGPASSWORD.valueFrom.secretKeyRef.key).toBe('monitor-password');
    // DATA_SOURCE_PASS would go into a string the exporter splits on spaces (parseFingerprint)
    expect([member.DATA_SOURCE_PASS, member.DATA_SOURCE_NAME]).toEqual([undefined, undefined]);
    expect(member.DATA_SOURCE_URI.value).not.toContain('@');
    for (const name of ['pg-ha-pooler', 'pg-ha-pooler-ro']) {
      const exporter = envOf(containersOf(s.get('Deployment', name).spec.template.spec).find((c: Manifest) => c.name === 'exporter'));
      expect(exporter.PGPASSWORD.valueFrom.secretKeyRef.key).toBe('pooler-password');
      expect(exporter.PGBOUNCER_EXPORTER_CONNECTION_STRING.value).toMatch(/^postgres:\/\/pooler@/);
    }
  });
});

describe('literal env values', () => {
  test('kubeletLiteral: the container gets the text as it is, $(VAR) and $$ included', () => {
    for (const text of [...HARD_CREDENTIALS, '$$', '$(HOME)', '$$(HOME)', 'a$']) expect(kubeletExpand(kubeletLiteral(text), { HOME: '/root' })).toBe(text);
  });

  test("the secrets Job's limits reach it intact ($$ is what Patroni cannot take)", () => {
    const env = envOf(containersOf(synth().job('pg-ha-secrets-').spec.template.spec)[0]);
    expect(JSON.parse(kubeletExpand(env.SECRET_LIMITS.value, {}))['superuser-password'].forbidden).toBe('$$');
  });

  test('no other plain env value holds $$ or a $( the kubelet would expand unintended', () => {
    const s = synth({ pooler: { enabled: true } });
    for (const workload of [...s.all('StatefulSet'), ...s.all('Deployment'), ...s.all('Job')]) {
      for (const c of containersOf(workload.spec.template.spec)) {
        for (const e of (c.env ?? []) as Manifest[]) {
          if (typeof e.value !== 'string' || e.name === 'SECRET_LIMITS') continue;
          expect(`${c.name}/${e.name}: ${/\$\$/.test(e.value)}`).toBe(`${c.name}/${e.name}: false`);
        }
      }
    }
  });
});
