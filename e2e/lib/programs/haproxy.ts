/*
 * HAProxy: the official image (haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg,
 * user haproxy) -> the root's /usr/sbin/haproxy (3.0) on a translated copy of
 * the ConfigMap's haproxy.cfg: `bind :P` -> the pod's address, the resolvers
 * section's nameservers -> the test bed's DNS server, pid/socket paths -> the
 * pod's directories. Checked with `haproxy -c` first, as the container would
 * fail at start.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DNS_PORT } from '../address-plan';
import { PathMap } from '../container-paths';
import { expandVars } from '../manifests';
import type { Launch, LocalContainer, LocalPod } from '../pod';
import { securityContext } from '../translation';
import { ProgramContext } from './context';

const SECTION = /^(global|defaults|frontend|backend|listen|resolvers|peers|userlist|program|http-errors|ring|mailers|cache)\b/;

export function haproxyLaunch(ctx: ProgramContext, pod: LocalPod, container: LocalContainer): Launch {
  const translator = ctx.translator;
  const paths = pod.pathsFor(container.name);
  const env = translator.env(pod, container, translator.containerEnv(pod, container.spec), paths);
  const defaultCfg = '/usr/local/etc/haproxy/haproxy.cfg';
  let argv = [...(container.spec.command ?? []), ...(container.spec.args ?? [])].map((a) => expandVars(a, env));
  if (!argv.length) argv = ['haproxy', '-f', defaultCfg];
  if (argv[0] === 'docker-entrypoint.sh') argv = argv.slice(1);
  if (/haproxy$/.test(argv[0]) && !argv.includes('-W')) argv.splice(1, 0, '-W', '-db'); // docker-entrypoint.sh adds these
  const fi = argv.indexOf('-f');
  const cfgPath = fi >= 0 ? argv[fi + 1] : defaultCfg;
  const cfgHost = paths.host(cfgPath);
  if (!fs.existsSync(cfgHost)) throw new Error(`${container.scope}: ${cfgPath} is not provided by any volume`);
  const translated = translateHaproxyConfig(ctx, pod, container, fs.readFileSync(cfgHost, 'utf8'), paths);
  const outCfg = path.join(pod.dir, 'haproxy.cfg');
  fs.writeFileSync(outCfg, translated);
  translator.print(`${container.scope} config file`, cfgPath, `${outCfg} (translated copy)`);
  const args = argv.slice(1).map((a) => (a === cfgPath ? outCfg : a));
  // the official image runs as user haproxy (uid 99): the root's haproxy user here
  const security = securityContext(pod, container);
  const usesUserDirective = /^\s*(user|uid)\s/m.test(translated);
  const haproxyUser = ctx.root.userIds('haproxy');
  const uid = usesUserDirective ? 0 : haproxyUser?.uid;
  const gid = usesUserDirective ? 0 : haproxyUser?.gid;
  if (!usesUserDirective && haproxyUser) translator.print(`${container.scope} user`, `image USER haproxy${security.runAsUser !== undefined ? ` / runAsUser ${security.runAsUser}` : ''}`, `haproxy of the Debian 13 root (uid ${haproxyUser.uid})`);
  const check = ctx.root.run('/usr/sbin/haproxy', ['-c', '-f', outCfg]);
  if (check.code !== 0) throw new Error(`HAProxy rejects the router config of ${container.scope}: ${check.output}`);
  return { cmd: translator.program(container, argv[0], '/usr/sbin/haproxy'), args, env: { PATH: '/usr/sbin:/usr/bin:/bin', ...env }, uid, gid, cwd: pod.dir };
}

export function translateHaproxyConfig(ctx: ProgramContext, pod: LocalPod, container: LocalContainer, cfg: string, paths: PathMap): string {
  const translator = ctx.translator;
  const extra = ctx.overrides.haproxyDefaultServerExtra;
  const out: string[] = [];
  let section = '';
  let nameserverAdded = false;
  for (const line of cfg.split('\n')) {
    const trimmed = line.trim();
    const kw = trimmed.split(/\s+/)[0];
    if (SECTION.test(trimmed)) {
      section = kw;
      nameserverAdded = false;
      out.push(line);
      continue;
    }
    if (section === 'resolvers' && (kw === 'parse-resolv-conf' || kw === 'nameserver')) {
      if (!nameserverAdded) {
        const repl = `${line.match(/^\s*/)?.[0] ?? '  '}nameserver testbed ${ctx.dnsAddress}:${DNS_PORT}`;
        translator.print(`${container.scope} haproxy.cfg resolvers`, trimmed, repl.trim());
        out.push(repl);
        nameserverAdded = true;
      } else translator.print(`${container.scope} haproxy.cfg resolvers`, trimmed, '(covered by the test bed nameserver)');
      continue;
    }
    if (kw === 'default-server' && extra) {
      const nl = `${line} ${extra}`;
      translator.print(`${container.scope} haproxy.cfg default-server (bench profile)`, trimmed, nl.trim());
      out.push(nl);
      continue;
    }
    if (kw === 'bind') {
      const parts = trimmed.split(/\s+/);
      const addrs = parts[1].split(',').map((a) => a.replace(/^(\*|0\.0\.0\.0|::|\[::\]|)?:(\d+)$/, `${pod.ip}:$2`));
      const nl = line.replace(parts[1], addrs.join(','));
      if (nl !== line) translator.print(`${container.scope} haproxy.cfg bind`, trimmed, nl.trim());
      out.push(nl);
      continue;
    }
    if (['chroot', 'pidfile'].includes(kw) || (kw === 'stats' && trimmed.split(/\s+/)[1] === 'socket')) {
      const r = paths.rewriteText(line);
      let nl = r.text;
      const p = trimmed.split(/\s+/)[kw === 'stats' ? 2 : 1];
      if (p?.startsWith('/') && !r.count) nl = line.replace(p, paths.host(p));
      if (nl !== line) {
        fs.mkdirSync(path.dirname(paths.host(p)), { recursive: true });
        translator.print(`${container.scope} haproxy.cfg ${kw}`, trimmed, nl.trim());
      }
      out.push(nl);
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}
