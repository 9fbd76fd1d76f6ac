/*
 * The configuration other than the defaults that issue 18 asks every scenario to pass on: other
 * scope, namespace, cluster domain, user, database, ports (PostgreSQL's and etcd's client port in
 * the pods too) and Patroni timings, 5 etcd members, 4 Postgres members, 3 routers, the PgBouncer
 * pooler, and etcd as a new cluster gets it (TLS only, with authentication; the committed dist/ is
 * the first step of the move from plain etcd). Synthesized at test time, as a user does
 * (`npm run synth` with pg-ha.env and these variables over it), into a temporary directory.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { log } from '../log';

export const OTHER_CONFIGURATION: Record<string, string> = {
  SCOPE: 'orders',
  NAMESPACE: 'db',
  CLUSTER_DOMAIN: 'corp.internal',
  POSTGRES_USER: 'orders_app',
  POSTGRES_DB: 'orders',
  ETCD_REPLICAS: '5',
  POSTGRES_REPLICAS: '4',
  ROUTER_REPLICAS: '3',
  POSTGRES_WRITE_PORT: '6432',
  POSTGRES_READ_PORT: '6433',
  POSTGRES_EXPORTER_PORT: '9188',
  POSTGRES_PORT: '6543',
  ETCD_CLIENT_PORT: '12379',
  ROUTER_STATS_PORT: '7001',
  ROUTER_METRICS_PORT: '8405',
  PATRONI_TTL: '20',
  PATRONI_LOOP_WAIT: '4',
  PATRONI_RETRY_TIMEOUT: '8',
  POOLER: 'true',
  // a new cluster: etcd on TLS only with authentication (pg-ha.env holds the first step of the move from plain etcd)
  ETCD_TLS_MIGRATION: 'false',
};

/** `npm run synth` with these variables over pg-ha.env into a new temporary directory (the caller removes it). */
export function synthesizeInto(variables: Record<string, string>, what: string): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-dist-'));
  const r = spawnSync('npm', ['run', '--silent', 'synth'], { cwd: path.join(__dirname, '..', '..', '..'), env: { ...process.env, ...variables, CDK8S_OUTDIR: out }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`synth of ${what} failed (${r.status}): ${r.stdout}${r.stderr}`);
  log(`${what} synthesized into ${out}: ${Object.entries(variables).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return out;
}
