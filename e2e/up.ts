/*
 * Bring the test bed up by hand: `npx tsx e2e/up.ts [--hold]`.
 * Applies dist/ (or $E2E_DIST) through the API stand-in (the secrets and init Jobs run in
 * their sync waves), waits for a healthy cluster, prints the addresses and a `READY {...}`
 * line; then tears down, or with --hold keeps the cluster until ^C (SIGINT/SIGTERM/SIGHUP)
 * and tears down then. While it is held, `npx tsx e2e/up.ts apply <dir>` (same
 * E2E_ADDRESS_BLOCK) applies a second dist/ to it and prints what the apply did.
 * E2E_ADDRESS_BLOCK=B (0..55) puts the bed on 127.B.x.y (default 0).
 */
import * as fs from 'fs';
import * as path from 'path';
import { addressBlock } from './lib/address-plan';
import { requestApply, serveApply } from './lib/apply-control';
import { appCreds, initJobName } from './lib/app-client';
import { log } from './lib/log';
import { routerPlan } from './lib/router';
import { Testbed } from './lib/testbed';

async function applyToHeldBed(dir: string): Promise<void> {
  const r = await requestApply(addressBlock(), dir);
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`APPLY ${r.ok ? 'OK' : 'FAILED'}: ${r.created.length} created, ${r.configured.length} configured, ${r.unchanged.length} unchanged, ${r.deleted.length} deleted, ${r.rejected.length} refused\n`);
  if (!r.ok) process.exit(1);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'apply') {
    if (!process.argv[3]) throw new Error('usage: npx tsx e2e/up.ts apply <directory of manifests>');
    return applyToHeldBed(process.argv[3]);
  }
  const distDir = process.env.E2E_DIST ?? path.join(__dirname, '..', 'dist');
  const bed = new Testbed({ distDir, addressBlock: addressBlock() });
  const t0 = Date.now();
  try {
    await bed.start();
    await bed.patroni.waitHealthy();
    log(`etcd health: ${(await bed.etcdHealth()).join(',')}`);
    for (const job of bed.lastApply?.jobs ?? []) log(`Job ${job.name} (run by the apply): ${job.succeeded ? 'succeeded' : 'FAILED'}: ${job.message}`);
    const router = routerPlan(bed);
    const app = appCreds(bed, initJobName(bed));
    const leader = await bed.patroni.leaderPod();
    const ready = {
      seconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
      write: `${router.writeService.host}:${router.writeService.port}`,
      read: `${router.readService.host}:${router.readService.port}`,
      user: app.user,
      database: app.database,
      leader: leader?.name,
      patroni: bed.pgPods.map((p) => `${bed.patroni.restApi(p).host}:${bed.patroni.restApi(p).port}`),
      runDir: bed.runDir,
      envFile: path.join(bed.runDir, 'app.env'),
      pid: process.pid,
    };
    // for clients by hand: libpq variables of the app user (the password is a generated Secret value, never printed)
    const envFile = path.join(bed.runDir, 'app.env');
    const [host, port] = ready.write.split(':');
    fs.writeFileSync(envFile, `PGHOST=${host}\nPGPORT=${port}\nPGUSER=${app.user}\nPGPASSWORD=${app.password}\nPGDATABASE=${app.database}\nPGSSLMODE=require\n`, { mode: 0o600 });
    log(`write Service ${ready.write}, read Service ${ready.read}; app user ${app.user}: \`set -a; . ${envFile}; set +a; psql\``);
    process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
    if (process.argv.includes('--hold')) {
      log('holding the cluster; ^C tears it down');
      const closeControl = serveApply(bed, addressBlock());
      const sig = await bed.holdUntilSignal().finally(closeControl);
      log(`${sig}: tearing down`);
    }
  } finally {
    await bed.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
