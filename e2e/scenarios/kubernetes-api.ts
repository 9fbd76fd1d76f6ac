/*
 * Scenario: the cluster's own API calls, through the API stand-in, with the bed's real wiring.
 * - The secrets Job created the credentials Secret with its ServiceAccount's token (its Role
 *   allows it), and the pods run with the values it generated (the bed invents none).
 * - A request its Role does not allow (listing pods with that same token) is refused with 403,
 *   as RBAC would.
 * - The role-label callback Patroni runs labels each Postgres pod `spilo-role` with the role
 *   Patroni passes (Patroni 4: primary / replica), and the labels follow a failover.
 */
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import { log } from '../lib/log';
import { waitFor } from '../lib/poll';
import type { Testbed } from '../lib/testbed';
import type { SuiteContext } from './suite';

const ROLE_LABEL = 'spilo-role';

/** One call to the API stand-in as a pod makes it: its token, TLS verified against its CA. */
function callApi(bed: Testbed, token: string, method: string, apiPath: string): Promise<{ code: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const url = new URL(apiPath, bed.api.url);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, ca: bed.api.caCert, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The secrets Job of the manifests: the Job whose ServiceAccount's Role may create Secrets. */
function secretsJob(bed: Testbed): { name: string; namespace: string; serviceAccount: string; secretName: string } {
  const job = bed.manifests.all('Job').find((j) => (j.spec.template.spec.containers[0].env ?? []).some((e: { name: string }) => e.name === 'SECRET_NAME'));
  if (!job) throw new Error('no secrets Job (a Job with SECRET_NAME) in the manifests');
  const c = job.spec.template.spec.containers[0];
  return { name: job.metadata.name, namespace: bed.manifests.ns(job), serviceAccount: job.spec.template.spec.serviceAccountName, secretName: c.env.find((e: { name: string }) => e.name === 'SECRET_NAME').value };
}

/** Every Postgres pod's role label, by pod name. */
function roleLabels(bed: Testbed): Record<string, string | undefined> {
  return Object.fromEntries(bed.pgPods.map((p) => [p.name, p.labels[ROLE_LABEL]]));
}

/** Wait until the leader is labelled primary and every other member replica; returns the leader's name. */
async function labelsMatchRoles(bed: Testbed): Promise<string> {
  return waitFor('spilo-role labels match the Patroni roles', async () => {
    const leader = await bed.patroni.leaderPod();
    if (!leader) return undefined;
    const want = Object.fromEntries(bed.pgPods.map((p) => [p.name, p === leader ? 'primary' : 'replica']));
    return JSON.stringify(roleLabels(bed)) === JSON.stringify(want) ? leader.name : undefined;
  }, { timeoutMs: 60000, intervalMs: 250 });
}

export function kubernetesApi(ctx: SuiteContext): void {
  describe('the Kubernetes API stand-in', () => {
    test("the secrets Job created the credentials Secret with its own token, and the pods run with its values", async () => {
      const bed = ctx.bed;
      const job = secretsJob(bed);
      const user = `system:serviceaccount:${job.namespace}:${job.serviceAccount}`;
      const calls = bed.api.requests.filter((r) => r.user === user).map((r) => `${r.method} ${r.path} ${r.code}`);
      expect(calls).toEqual(expect.arrayContaining([`POST /api/v1/namespaces/${job.namespace}/secrets 201`]));
      expect(bed.lastApply?.jobs.find((j) => j.name === job.name)?.succeeded).toBe(true);
      const secret = bed.store.get('Secret', job.namespace, job.secretName)!;
      const keys = bed.manifests.secretRefs().filter((r) => r.name === job.secretName).map((r) => r.key);
      expect(Object.keys(secret.data).sort()).toEqual(expect.arrayContaining([...new Set(keys)].sort()));
      // the app user logs in (bring-up) with the init Job's password: read from this Secret
      expect(ctx.app.password).toBe(Buffer.from(secret.data['app-password'] ?? '', 'base64').toString());
    });

    test("a request the Job's Role does not allow (list pods) is refused with 403; the Secret it may read answers 200", async () => {
      const bed = ctx.bed;
      const job = secretsJob(bed);
      const runDir = bed.cluster.pods.filter((p) => p.owner?.kind === 'Job' && p.owner.name === job.name).map((p) => p.dir)[0];
      const token = fs.readFileSync(path.join(runDir, 'vol', 'kube-api-access-auto', 'token'), 'utf8');
      const listed = await callApi(bed, token, 'GET', `/api/v1/namespaces/${job.namespace}/pods`);
      log(`secrets Job's token, GET pods: ${listed.code} ${listed.body?.message}`);
      expect(listed.code).toBe(403);
      expect(listed.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', message: expect.stringContaining(`User "system:serviceaccount:${job.namespace}:${job.serviceAccount}" cannot list resource "pods"`) });
      expect((await callApi(bed, token, 'GET', `/api/v1/namespaces/${job.namespace}/secrets/${job.secretName}`)).code).toBe(200);
    });

    test('each Postgres pod is labelled spilo-role with its Patroni role by the role callback (leader primary, others replica)', async () => {
      const leader = await labelsMatchRoles(ctx.bed);
      ctx.labelledLeader = leader;
      log(`spilo-role labels: ${JSON.stringify(roleLabels(ctx.bed))}`);
      expect(roleLabels(ctx.bed)[leader]).toBe('primary');
    });
  });
}

/** After the failovers: the labels moved with the leader role. */
export function roleLabelsFollowFailover(ctx: SuiteContext): void {
  test('after the failovers the spilo-role labels follow the new leader', async () => {
    const leader = await labelsMatchRoles(ctx.bed);
    log(`spilo-role labels after the failovers: ${JSON.stringify(roleLabels(ctx.bed))} (leader at bring-up: ${ctx.labelledLeader})`);
    expect(roleLabels(ctx.bed)[leader]).toBe('primary');
    expect(ctx.bed.pgPods.filter((p) => p.labels[ROLE_LABEL] === 'primary')).toHaveLength(1);
  });
}
