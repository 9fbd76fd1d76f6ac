/**
 * Resources: defaults per container, settings that change one key, validation by value. That every
 * container has requests and a memory limit is checked once for all workloads in
 * test/cross-cutting/workloads.test.ts.
 */
import { k8s } from 'cdk8s-plus-28';
import { quantityValue } from '../../lib';
import { container } from '../support/manifests';
import { synth } from '../support/synth';

describe('resources', () => {
  test('no CPU limit by default: throttling would delay etcd heartbeats and Patroni checks', () => {
    const withCpuLimit = synth().workloads().flatMap((w) => w.containers.filter((c) => c.resources.limits.cpu !== undefined).map((c) => `${w.name}/${c.name}`));
    expect(withCpuLimit).toEqual([]);
  });

  test('a setting changes one key and keeps the other defaults (Spilo sizes shared_buffers from the memory limit)', () => {
    const spilo = container(synth({ postgres: { resources: { limits: { memory: k8s.Quantity.fromString('4Gi'), cpu: k8s.Quantity.fromString('2') } } } }).workload('database'), 'postgres');
    expect(spilo.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '4Gi', cpu: '2' } });
  });

  test('invalid resources name the setting', () => {
    const q = k8s.Quantity.fromString;
    expect(() => synth({ etcd: { resources: { requests: { memory: q('1Gi') } } } })).toThrow(/etcd.resources.requests.memory must be at most etcd.resources.limits.memory \(512Mi\)/);
    expect(() => synth({ router: { resources: { requests: { cpu: q('2') }, limits: { cpu: q('500m') } } } })).toThrow(/router.resources.requests.cpu must be at most router.resources.limits.cpu/);
    expect(() => synth({ postgres: { exporterResources: { limits: { memory: q('lots') } } } })).toThrow(/postgres.exporterResources.limits.memory must be a Kubernetes quantity/);
    expect(() => synth({ init: { resources: { limits: { memory: undefined as any } } } })).toThrow(/init.resources.limits.memory must be set/);
    expect(() => synth({ postgres: { resources: { limits: { memory: undefined as any } } } }))
      .toThrow(/postgres.resources.limits.memory must be set: Spilo sizes shared_buffers and max_connections from the memory limit/);
  });

  test('quantities compare by value', () => {
    expect(quantityValue('512Mi')).toBe(512 * 2 ** 20);
    expect(quantityValue('1G')).toBe(1e9);
    expect(quantityValue('500m')).toBe(0.5);
    expect(quantityValue('1e3')).toBe(1000);
  });
});
