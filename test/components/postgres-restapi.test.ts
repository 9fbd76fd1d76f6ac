/**
 * Patroni's REST API: unsafe endpoints (PATCH /config, POST /restart, /switchover, ...) need the
 * `patroni` user's password from the credentials Secret; the reads HAProxy and the probes make
 * (OPTIONS, GET) are never authenticated by Patroni, so they keep working.
 */
import { parse } from 'yaml';
import { CREDENTIAL_KEYS } from '../../lib';
import { container, envOf, Manifest } from '../support/manifests';
import { synth } from '../support/synth';

describe('REST API authentication', () => {
  const s = synth();
  const spilo = container(s.get('StatefulSet', 'pg-ha'), 'postgres');
  const env = envOf(spilo);
  const names = (spilo.env as Manifest[]).map((e) => e.name);

  test('SPILO_CONFIGURATION sets restapi.authentication with the password as $(VAR), never a literal', () => {
    const restapi = parse(env.SPILO_CONFIGURATION.value).restapi;
    expect(restapi.authentication).toEqual({ username: 'patroni', password: '$(REST_API_PASSWORD)' });
  });

  test('the password comes from its own key of the credentials Secret, defined before SPILO_CONFIGURATION (so the kubelet expands it)', () => {
    expect(CREDENTIAL_KEYS.restapi).toBe('patroni-api-password');
    expect(env.REST_API_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'patroni-api-password' });
    expect(names.indexOf('REST_API_PASSWORD')).toBeLessThan(names.indexOf('SPILO_CONFIGURATION'));
    expect(names.indexOf('BOOTSTRAP_DYNAMIC_CONFIG')).toBeLessThan(names.indexOf('SPILO_CONFIGURATION'));
  });

  test('probes and HAProxy checks use methods Patroni never authenticates (GET, OPTIONS)', () => {
    expect(spilo.readinessProbe.httpGet.path).toBe('/readiness');
    expect(spilo.livenessProbe.httpGet.path).toBe('/liveness');
    const haproxy: string = s.get('ConfigMap', 'pg-ha-router').data['haproxy.cfg'];
    const checks = haproxy.split('\n').filter((line) => line.includes('http-check send'));
    expect(checks.length).toBeGreaterThan(0);
    for (const line of checks) expect(line).toMatch(/meth (OPTIONS|GET) /);
  });
});

describe('dynamic configuration outside the pod template', () => {
  test('changing a DCS parameter or a timing changes the ConfigMap, not the StatefulSet (no rollout)', () => {
    const template = (settings: object) => JSON.stringify(synth(settings).get('StatefulSet', 'pg-ha').spec.template);
    const before = template({});
    expect(template({ patroni: { parameters: { work_mem: '64MB' }, loopWait: 4 } })).toEqual(before);
    // A local parameter is read when the pod starts: it is in the template.
    expect(template({ patroni: { parameters: { shared_buffers: '512MB' } } })).not.toEqual(before);
  });
});
