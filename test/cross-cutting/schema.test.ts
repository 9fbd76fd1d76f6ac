/**
 * Every object we ship must be accepted by the API server with strict field validation: a typo in
 * a field name would otherwise be dropped silently by `kubectl apply` (or rejected only at apply
 * time by Argo CD), so the test fails on unknown fields as well as on wrong types.
 */
import { parseAllDocuments } from 'yaml';
import { renderArgoCdApplication } from '../../lib';
import { KubernetesSchemas } from '../support/k8s-schema';
import { CONFIGURATIONS, synth } from '../support/synth';

const schemas = new KubernetesSchemas();

describe('schemas', () => {
  test('the vendored schemas cover core kinds and every CRD we generate code for', () => {
    expect(schemas.kinds).toEqual(expect.arrayContaining([
      'apps/v1/StatefulSet', 'apps/v1/Deployment', 'batch/v1/Job', 'v1/Service', 'policy/v1/PodDisruptionBudget',
      'networking.k8s.io/v1/NetworkPolicy', 'monitoring.coreos.com/v1/PodMonitor', 'monitoring.coreos.com/v1/ServiceMonitor',
      'monitoring.coreos.com/v1/PrometheusRule', 'argoproj.io/v1alpha1/Application', 'traefik.io/v1alpha1/IngressRoute',
    ]));
  });

  // The default configuration is what dist/ holds (dist.test.ts proves it), so dist/ is covered here.
  test.each(Object.entries(CONFIGURATIONS))('every object synthesized with the %s configuration is valid', (_, settings) => {
    const { objects } = synth(settings);
    expect(objects.length).toBeGreaterThan(10);
    expect(objects.flatMap((o) => schemas.validate(o))).toEqual([]);
  });

  test('the Argo CD Application is valid', () => {
    const rendered = renderArgoCdApplication(
      { repoUrl: 'https://github.com/you/pg-ha-cdk8s.git', targetRevision: 'main' },
      { scope: 'pg-ha', namespace: 'pg-ha', projectDir: '/repo', outdir: '/repo/dist' },
    )!;
    const objects = parseAllDocuments(rendered.yaml).map((d) => d.toJS());
    expect(objects.map((o) => o.kind)).toEqual(['Application']);
    expect(objects.flatMap((o) => schemas.validate(o))).toEqual([]);
  });
});

describe('the validator catches mistakes', () => {
  const { objects } = synth(CONFIGURATIONS.full);
  const find = (kind: string) => JSON.parse(JSON.stringify(objects.find((o) => o.kind === kind)));

  test('a misspelled field in a core object fails, naming the field', () => {
    // GIVEN the router Deployment with `imagePullPolicy` misspelled
    const deployment = find('Deployment');
    deployment.spec.template.spec.containers[0].imagePulPolicy = 'Always';
    // THEN validation names the path and the unknown field
    expect(schemas.validate(deployment)).toEqual([
      expect.stringMatching(/\/spec\/template\/spec\/containers\/0: unknown field "imagePulPolicy"/),
    ]);
  });

  test('a misspelled field at the top of a spec fails', () => {
    const statefulSet = find('StatefulSet');
    statefulSet.spec.volumeClaimTemplate = statefulSet.spec.volumeClaimTemplates;
    expect(schemas.validate(statefulSet).join('\n')).toMatch(/unknown field "volumeClaimTemplate"/);
  });

  test('a misspelled field in metadata fails', () => {
    const service = find('Service');
    service.metadata.label = service.metadata.labels;
    expect(schemas.validate(service).join('\n')).toMatch(/\/metadata: unknown field "label"/);
  });

  test('a misspelled field in a custom resource fails (CRD schema)', () => {
    const podMonitor = find('PodMonitor');
    podMonitor.spec.podMetricEndpoints = podMonitor.spec.podMetricsEndpoints;
    expect(schemas.validate(podMonitor).join('\n')).toMatch(/\/spec: unknown field "podMetricEndpoints"/);
  });

  test('a wrong type fails', () => {
    const deployment = find('Deployment');
    deployment.spec.replicas = 'two';
    expect(schemas.validate(deployment).join('\n')).toMatch(/\/spec\/replicas: must be integer/);
  });

  test('a kind without a vendored schema fails instead of passing unchecked', () => {
    expect(schemas.validate({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual([
      expect.stringMatching(/no schema for example.com\/v1\/Widget/),
    ]);
  });
});
