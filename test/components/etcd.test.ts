/** The etcd StatefulSet: Patroni's DCS, three members that find each other before quorum. */
import { container, envOf } from '../support/manifests';
import { synth } from '../support/synth';

describe('etcd', () => {
  const s = synth();
  const sts = s.get('StatefulSet', 'pg-ha-etcd');
  const etcd = container(sts, 'etcd');
  const env = envOf(etcd);

  test('three members start in parallel (OrderedReady deadlocks: member 0 is not ready before a quorum)', () => {
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
  });

  test('the headless Service publishes not-ready addresses so peers resolve each other before quorum', () => {
    const headless = s.get('Service', 'pg-ha-etcd-headless');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(sts.spec.serviceName).toBe('pg-ha-etcd-headless');
  });

  test('configured with ETCD_* env only (the image is distroless: no shell, no command)', () => {
    expect(etcd.command).toBeUndefined();
    expect(etcd.args).toBeUndefined();
    expect(env.ETCD_NAME.value).toBe('$(POD_NAME)');
    expect(env.POD_NAME.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    // $(POD_NAME) is only expanded by Kubernetes when POD_NAME is defined earlier in the list.
    const names = etcd.env.map((e: any) => e.name);
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('ETCD_NAME'));
    expect(env.ETCD_ADVERTISE_CLIENT_URLS.value).toBe('https://$(POD_NAME).pg-ha-etcd-headless.pg-ha.svc.cluster.local:2379');
    expect(env.ETCD_INITIAL_CLUSTER.value.split(',')).toEqual([0, 1, 2].map(
      (i) => `pg-ha-etcd-${i}=https://pg-ha-etcd-${i}.pg-ha-etcd-headless.pg-ha.svc.cluster.local:2380`,
    ));
    expect(env.ETCD_INITIAL_CLUSTER_STATE.value).toBe('new');
  });

  test('the cluster token is unique to this cluster and namespace', () => {
    const other = synth({ scope: 'orders', namespace: 'shop' });
    const otherEnv = envOf(container(other.get('StatefulSet', 'orders-etcd'), 'etcd'));
    expect(env.ETCD_INITIAL_CLUSTER_TOKEN.value).toBe('pg-ha-etcd.pg-ha');
    expect(otherEnv.ETCD_INITIAL_CLUSTER_TOKEN.value).not.toBe(env.ETCD_INITIAL_CLUSTER_TOKEN.value);
  });

  test('history is compacted, or Patroni\'s constant writes would fill the backend quota and stop the DCS', () => {
    expect(env.ETCD_AUTO_COMPACTION_MODE.value).toBe('periodic');
    expect(env.ETCD_AUTO_COMPACTION_RETENTION.value).toBe('1h');
  });

  test('data lives on a PVC per member, mounted where ETCD_DATA_DIR points', () => {
    const [claim] = sts.spec.volumeClaimTemplates;
    expect(claim).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' } });
    expect(claim.spec.resources.requests.storage).toBe('1Gi');
    const mount = etcd.volumeMounts.find((v: any) => v.name === 'data');
    expect(env.ETCD_DATA_DIR.value.startsWith(`${mount.mountPath}/`)).toBe(true);
  });

  test('readiness uses /readyz (quorum) and liveness /livez (no quorum needed: losing quorum restarts nothing)', () => {
    expect(etcd.readinessProbe.httpGet.path).toBe('/readyz');
    expect(etcd.livenessProbe.httpGet.path).toBe('/livez');
    expect(env.ETCD_LISTEN_METRICS_URLS.value).toBe('http://0.0.0.0:8080');
  });
});
