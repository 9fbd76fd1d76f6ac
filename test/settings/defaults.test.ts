/** Each default is written once (lib/settings/defaults.ts) and read by the env table, the chart and the docs. */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { DEFAULTS, getSetting, SETTINGS } from '../../lib';
import { ROOT, synth } from '../support/synth';

describe('each default is written once', () => {
  test('the env table shows DEFAULTS where it has a value', () => {
    const shown = SETTINGS.filter((spec) => getSetting(DEFAULTS, spec.path) !== undefined);
    expect(shown.length).toBeGreaterThan(60);
    for (const spec of shown) {
      const value = getSetting(DEFAULTS, spec.path);
      const text = Array.isArray(value) ? value.join(',') : typeof value === 'object' && value !== null && 'value' in value
        ? String(value.value) : typeof value === 'object' ? Object.entries(value).map(([k, v]) => `${k}=${v}`).join(',') : String(value);
      expect([spec.env, spec.default]).toEqual([spec.env, text]);
    }
  });

  test('the chart reads DEFAULTS (a default chart is built from its values)', () => {
    const { chart } = synth();
    expect(chart.cluster).toEqual({ name: DEFAULTS.scope, namespace: DEFAULTS.namespace, clusterDomain: DEFAULTS.clusterDomain });
    expect(chart.etcd.replicas).toBe(DEFAULTS.etcd.replicas);
    expect(chart.postgres.replicas).toBe(DEFAULTS.postgres.replicas);
    expect(chart.router.writePort).toBe(DEFAULTS.router.writePort);
    expect(chart.router.replicaMaxLagBytes).toBe(DEFAULTS.router.replicaMaxLagBytes);
  });

  test('no source file but the defaults object falls back to a default value of its own (`?? 17`, `?? \'pg-ha\'`)', () => {
    const leaves: unknown[] = [];
    const walk = (value: unknown) => {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) Object.values(value).forEach(walk);
      else if (typeof value === 'string' || typeof value === 'number') leaves.push(value);
    };
    walk(DEFAULTS);
    const literals = new Set(leaves.map((v) => (typeof v === 'string' ? `?? '${v}'` : `?? ${v}`)));
    const sources = ['main.ts', ...listTs(join(ROOT, 'lib')).map((f) => join('lib', f))].filter((f) => !f.endsWith(join('settings', 'defaults.ts')));
    const found = sources.flatMap((file) => [...literals].filter((literal) => readFileSync(join(ROOT, file), 'utf8').includes(literal)).map((l) => `${file}: ${l}`));
    expect(found).toEqual([]);
  });
});

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory()
    ? listTs(join(dir, entry.name)).map((f) => join(entry.name, f))
    : entry.name.endsWith('.ts') ? [entry.name] : []));
}
