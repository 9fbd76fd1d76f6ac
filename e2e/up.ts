/*
 * Bring the test bed up by hand: `npx tsx e2e/up.ts [--hold]`.
 * Starts everything from dist/ (or $E2E_DIST), waits for a healthy cluster,
 * runs the init Job, prints the addresses, and tears down (with --hold: on ^C).
 */
import * as path from 'path';
import { log } from './lib/log';
import { roleOfImage, Testbed } from './lib/testbed';

async function main(): Promise<void> {
  const distDir = process.env.E2E_DIST ?? path.join(__dirname, '..', 'dist');
  const tb = new Testbed({ distDir });
  const t0 = Date.now();
  try {
    await tb.start();
    await tb.waitHealthy();
    const health = await tb.etcdHealth();
    log(`etcd health: ${health.join(',')}`);
    for (const j of tb.m.all('Job').filter((x) => roleOfImage(x.spec.template.spec.containers[0].image) === 'psql')) {
      const r = await tb.runJob(j.metadata.name);
      log(`job ${j.metadata.name}: exit ${r.code}\n${r.output}`);
    }
    log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s; run dir ${tb.runDir}`);
    if (process.argv.includes('--hold')) {
      log('holding; ^C to tear down');
      await new Promise((r) => process.once('SIGINT', r));
    }
  } finally {
    await tb.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
