/*
 * The Spilo image's entrypoint (spilo/rootfs/scripts/configure_spilo.py) is a port of
 * e2e/images/test/spilo-config.ts; this prints what the TypeScript model makes of the Spilo
 * container of a dist/ file, for e2e/images/check.sh to compare with what the image writes.
 *
 *   npx tsx e2e/images/test/spilo-parity.ts <dist.yaml> <out-dir> [NAME=VALUE ...]
 *
 * Writes <out-dir>/env (the container's environment as the kubelet builds it: values, ConfigMap
 * keys of the same file, $(VAR) references; Secret keys become "secret-<key>", status.podIP
 * 127.0.0.1; NAME=VALUE arguments added last) and <out-dir>/expected.json (spiloConfig() of it,
 * with the container's memory limit), and prints the memory limit in bytes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { spiloConfig } from './spilo-config';

/* eslint-disable @typescript-eslint/no-explicit-any */
const [distFile, outDir, ...extra] = process.argv.slice(2);
if (!distFile || !outDir) throw new Error('usage: spilo-parity.ts <dist.yaml> <out-dir> [NAME=VALUE ...]');
const docs = parseAllDocuments(fs.readFileSync(distFile, 'utf8')).map((d) => d.toJS() as any).filter(Boolean);
const sts = docs.find((d) => d.kind === 'StatefulSet' && d.spec.template.spec.containers.some((c: any) => /spilo/.test(c.image)));
if (!sts) throw new Error(`${distFile}: no StatefulSet runs the Spilo image`);
const container = sts.spec.template.spec.containers.find((c: any) => /spilo/.test(c.image));
const podName = `${sts.metadata.name}-0`;

const env: Record<string, string> = {};
const expand = (v: string): string => v.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => (n in env ? env[n] : m));
for (const e of container.env ?? []) {
  if (e.value !== undefined) env[e.name] = expand(String(e.value));
  else if (e.valueFrom?.secretKeyRef) env[e.name] = `secret-${e.valueFrom.secretKeyRef.key}`;
  else if (e.valueFrom?.configMapKeyRef) {
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === e.valueFrom.configMapKeyRef.name);
    env[e.name] = String(cm.data[e.valueFrom.configMapKeyRef.key]);
  } else if (e.valueFrom?.fieldRef) {
    const field = e.valueFrom.fieldRef.fieldPath;
    env[e.name] = field === 'status.podIP' ? '127.0.0.1' : field === 'metadata.namespace' ? sts.metadata.namespace : field === 'metadata.name' ? podName : '';
  }
}
for (const kv of extra) {
  const i = kv.indexOf('=');
  env[kv.slice(0, i)] = kv.slice(i + 1);
}
// what every pod has: the kubelet's HOSTNAME and the API server's service variables
env.HOSTNAME = podName;
env.KUBERNETES_SERVICE_HOST ??= '10.96.0.1';
env.KUBERNETES_SERVICE_PORT ??= '443';

const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
const limit = container.resources?.limits?.memory as string | undefined;
const m = limit ? /^(\d+)([KMG]i?)?$/.exec(limit) : null;
const memoryLimitBytes = m ? Number(m[1]) * (units[m[2] ?? ''] ?? 1) : undefined;
const result = spiloConfig(env, { memoryLimitBytes, hostMemBytes: os.totalmem(), pgVersionOnImage: '17' });
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'env'), Object.entries(env).map(([k, v]) => `${k}=${v.replace(/\n/g, '\\n')}`).join('\n') + '\n');
fs.writeFileSync(path.join(outDir, 'env.json'), JSON.stringify(env));
fs.writeFileSync(path.join(outDir, 'expected.json'), JSON.stringify(result.spiloConfig, null, 1));
console.log(memoryLimitBytes ?? 0);
