/*
 * What the router's haproxy.cfg (from the ConfigMap) says: which bind port
 * is the write port (health check on /primary, /master, /leader,
 * /read-write or bare OPTIONS /), which is the read port (/replica,
 * /read-only, /async, /sync ...), whether the read side falls back to the
 * leader (a `backup` server, or /read-only), and the stats and metrics
 * endpoints.
 */
interface Section {
  kind: string;
  name: string;
  lines: string[];
}

function sections(cfg: string): Section[] {
  const out: Section[] = [];
  let cur: Section | undefined;
  for (const raw of cfg.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^(global|defaults|frontend|backend|listen|resolvers|peers|userlist|program|http-errors|ring|mailers|cache)\b\s*(\S*)/.exec(line);
    if (m) {
      cur = { kind: m[1], name: m[2], lines: [] };
      out.push(cur);
    } else cur?.lines.push(line);
  }
  return out;
}

function checkPath(s: Section): string | undefined {
  let p: string | undefined;
  for (const l of s.lines) {
    const m = /^option\s+httpchk(?:\s+(\S+))?(?:\s+(\S+))?/.exec(l);
    if (m) p = m[2] ?? (m[1] && m[1].startsWith('/') ? m[1] : '/');
    const s2 = /^http-check\s+send\s+.*\buri\s+(\S+)/.exec(l);
    if (s2) p = s2[1];
  }
  return p;
}

const WRITE_PATHS = /^\/(primary|master|leader|read-write)?(\?|$)/;
const READ_PATHS = /^\/(replica|read-only|async|asynchronous|sync|synchronous|standby)/;

/** What a haproxy.cfg says, without the Services: write and read ports, read fallback, stats, metrics. */
export interface HaproxyPlan {
  writePort: number;
  readPort: number;
  readFallsBackToLeader: boolean;
  stats?: { port: number; uri: string };
  metrics?: { port: number; path: string };
  checkPaths: Record<number, string>;
  /** the proxies (listen or backend sections) behind the write and read ports, as HAProxy's stats name them */
  writeProxy: string;
  readProxy: string;
}

export function haproxyPlan(cfg: string): HaproxyPlan {
  const secs = sections(cfg);
  const defaults = secs.filter((s) => s.kind === 'defaults');
  const backends = new Map(secs.filter((s) => s.kind === 'backend' || s.kind === 'listen').map((s) => [s.name, s]));
  const checkPaths: Record<number, string> = {};
  let writePort: number | undefined;
  let readPort: number | undefined;
  let writeProxy = '';
  let readProxy = '';
  let readFallsBackToLeader = false;
  let stats: HaproxyPlan['stats'];
  let metrics: HaproxyPlan['metrics'];
  for (const s of secs) {
    if (s.kind !== 'frontend' && s.kind !== 'listen') continue;
    const ports = s.lines.filter((l) => l.startsWith('bind ')).map((l) => Number(/:(\d+)(\s|$)/.exec(l)?.[1]));
    if (s.lines.some((l) => /^stats\s+enable/.test(l) || /^stats\s+uri/.test(l))) {
      const uri = s.lines.map((l) => /^stats\s+uri\s+(\S+)/.exec(l)?.[1]).find(Boolean) ?? '/';
      stats = { port: ports[0], uri };
    }
    const promex = s.lines.map((l) => /use-service\s+prometheus-exporter(?:\s+if\s+\{\s*path\s+(\S+)\s*\})?/.exec(l)).find(Boolean);
    if (promex) metrics = { port: ports[0], path: promex[1] ?? '/metrics' };
    let be: Section | undefined = s.kind === 'listen' ? s : undefined;
    const ub = s.lines.map((l) => /^default_backend\s+(\S+)/.exec(l)?.[1]).find(Boolean);
    if (ub) be = backends.get(ub);
    if (!be || !be.lines.some((l) => l.startsWith('server ') || l.startsWith('server-template '))) continue;
    const cp = checkPath(be) ?? defaults.map(checkPath).find(Boolean);
    if (!cp) continue;
    for (const p of ports) checkPaths[p] = cp;
    if (WRITE_PATHS.test(cp)) {
      if (writePort === undefined) [writePort, writeProxy] = [ports[0], be.name];
    } else if (READ_PATHS.test(cp) && readPort === undefined) {
      [readPort, readProxy] = [ports[0], be.name];
      // fallback: /read-only admits the leader; `backup` servers; or a use_backend taken when the replicas are gone
      const beName = be.name;
      const viaNbsrv = s.lines.some((l) => new RegExp(`^use_backend\\s+\\S+\\s+(if|unless)\\s.*nbsrv\\(${beName}\\)`).test(l));
      readFallsBackToLeader = /^\/read-only/.test(cp) || be.lines.some((l) => /^server\s.*\sbackup(\s|$)/.test(l)) || viaNbsrv;
    }
  }
  if (writePort === undefined || readPort === undefined) throw new Error(`router config: cannot tell the write and read ports apart (health checks: ${JSON.stringify(checkPaths)})`);
  return { writePort, readPort, readFallsBackToLeader, stats, metrics, checkPaths, writeProxy, readProxy };
}
