/** Every validation rule, each with an input that breaks it and the message a user would read. */
import { PgHaSettings } from '../lib';
import { synth } from './support/synth';

const build = (settings: PgHaSettings) => () => synth(settings);

describe.each<[string, PgHaSettings, RegExp]>([
  // Names must be DNS-1123 labels: they become object, pod and host names.
  ['scope with capitals', { scope: 'PG_HA' }, /^scope must be a DNS-1123 label.*\(got "PG_HA"\)/],
  ['scope too long for pod names', { scope: 'a'.repeat(41) }, /^scope must be .*at most 40 characters/],
  ['namespace with a dot', { namespace: 'pg.ha' }, /^namespace must be a DNS-1123 label.*\(got "pg.ha"\)/],
  ['domain not a host name', { domain: 'https://example.com' }, /^domain must be a DNS-1123 subdomain/],
  ['cluster domain with a space', { clusterDomain: 'cluster local' }, /^clusterDomain must be a DNS-1123 subdomain/],
  // etcd quorum.
  ['even etcd replicas', { etcd: { replicas: 2 } }, /^etcd\.replicas must be an odd integer from 1 to 9.*\(got 2\)/],
  ['zero etcd replicas', { etcd: { replicas: 0 } }, /^etcd\.replicas must be an odd integer/],
  ['fractional etcd replicas', { etcd: { replicas: 1.5 } }, /^etcd\.replicas must be an odd integer/],
  ['postgres replicas out of range', { postgres: { replicas: 0 } }, /^postgres\.replicas must be an integer from 1 to 9 \(got 0\)/],
  ['router replicas out of range', { router: { replicas: 0 } }, /^router\.replicas must be an integer from 1 to 20 \(got 0\)/],
  // Quantities.
  ['bad etcd storage size', { etcd: { storageSize: '1GB' } }, /^etcd\.storageSize must be a Kubernetes quantity.*\(got "1GB"\)/],
  ['bad postgres storage size', { postgres: { storageSize: 'ten' } }, /^postgres\.storageSize must be a Kubernetes quantity/],
  // Ports.
  ['privileged write port', { router: { writePort: 543 } }, /^router\.writePort must be a port from 1024 to 65535.*\(got 543\)/],
  ['read port out of range', { router: { readPort: 70000 } }, /^router\.readPort must be a port from 1024 to 65535/],
  ['equal write and read ports', { router: { writePort: 6000, readPort: 6000 } }, /^router\.readPort must be different from router\.writePort \(both are 6000/],
  ['read port equal to the stats port', { router: { readPort: 7000 } }, /^router\.statsPort must be different from router\.readPort/],
  ['exporter port on Patroni\'s port', { postgres: { exporterPort: 8008 } }, /^postgres\.exporterPort must be different from PostgreSQL \(5432\) and Patroni \(8008\)/],
  // Patroni timing rules (Patroni would silently change the values otherwise).
  ['ttl below 20', { patroni: { ttl: 10 } }, /^patroni\.ttl must be an integer from 20 to 3600 \(got 10\)/],
  ['loop_wait below 1', { patroni: { loopWait: 0 } }, /^patroni\.loopWait must be an integer from 1/],
  ['retry_timeout below 3', { patroni: { retryTimeout: 2 } }, /^patroni\.retryTimeout must be an integer from 3/],
  ['loop_wait + 2*retry_timeout above ttl', { patroni: { ttl: 20, loopWait: 10, retryTimeout: 10 } },
    /^patroni\.loopWait \+ 2 \* patroni\.retryTimeout must be <= patroni\.ttl \(20\).*\(got "10 \+ 2 \* 10 = 30"\)/],
  // Images must be pinned.
  ['image without a tag', { router: { image: 'haproxy' } }, /^router\.image must be an image reference pinned to a tag or digest/],
  ['image on latest', { etcd: { image: 'quay.io/coreos/etcd:latest' } }, /^etcd\.image must be .*other than "latest"/],
  ['registry port mistaken for a tag', { init: { image: 'registry:5000/postgres' } }, /^init\.image must be an image reference pinned/],
  // Roles are quoted into SQL and env: plain identifiers only.
  ['user with a quote', { postgresUser: "app'; DROP" }, /^postgresUser must be a lowercase PostgreSQL identifier/],
  ['reserved pg_ role prefix', { postgres: { monitorUser: 'pg_monitor' } }, /^postgres\.monitorUser must be a lowercase PostgreSQL identifier.*not starting with a digit or "pg_"/],
  ['database name with a dash', { postgresDb: 'my-db' }, /^postgresDb must be a lowercase PostgreSQL identifier/],
  // Stats exposure.
  ['unknown stats exposure', { statsIngress: { kind: 'nodeport' as never } }, /^statsIngress\.kind must be one of "ingress", "ingressroute", "none" \(got "nodeport"\)/],
  ['bad existing secret name', { existingSecret: 'Not_A_Name' }, /^existingSecret must be a DNS-1123 label/],
  ['postgres without a memory limit', { postgres: { resources: { limits: { memory: undefined as never } } } }, /^postgres\.resources\.limits\.memory must be set: Spilo sizes shared_buffers/],
])('%s', (_name, settings, message) => {
  test('is rejected with a message naming the setting, the value and what is valid', () => {
    expect(build(settings)).toThrow(message);
  });
});

test('valid edge values are accepted', () => {
  expect(build({ etcd: { replicas: 1 }, postgres: { replicas: 1 }, router: { writePort: 1024, readPort: 65535 }, patroni: { ttl: 20, loopWait: 1, retryTimeout: 3 } })).not.toThrow();
  expect(build({ patroni: { ttl: 30, loopWait: 10, retryTimeout: 10 } })).not.toThrow(); // Spilo's defaults
  expect(build({ etcd: { storageSize: '500Mi' }, postgres: { storageSize: '1.5Ti' } })).not.toThrow();
  expect(build({ router: { image: 'registry:5000/haproxy:3.3.1' } })).not.toThrow();
  expect(build({ router: { image: `haproxy@sha256:${'a'.repeat(64)}` } })).not.toThrow();
});
