/*
 * Patroni's REST API (and the SQL it reports on), as the scenarios ask it:
 * the cluster view, the leader, and "healthy" = one leader, every other member
 * a replica with lag 0 streaming from it, and as many sync standbys as the
 * configuration asks for.
 */
import { log } from './log';
import type { LocalPod } from './pod';
import { tryQuery } from './pg';
import { httpJson, httpStatus, waitFor } from './poll';

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface PatroniMember {
  name: string;
  role: string;
  state: string;
  host: string;
  port: number;
  api_url: string;
  timeline?: number;
  lag?: number | string;
}

export interface DcsTiming {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
}

export class PatroniClient {
  constructor(
    /** the Postgres pods, in ordinal order */
    private readonly pods: () => LocalPod[],
    private readonly configs: Map<string, Record<string, any>>,
  ) {}

  config(p: LocalPod): Record<string, any> {
    const c = this.configs.get(p.name);
    if (!c) throw new Error(`pod ${p.name} runs no Patroni`);
    return c;
  }

  restApi(p: LocalPod): { host: string; port: number } {
    const [host, port] = String(this.config(p).restapi.connect_address).split(':');
    return { host, port: Number(port) };
  }

  pgAddress(p: LocalPod): { host: string; port: number } {
    const [host, port] = String(this.config(p).postgresql.connect_address).split(':');
    return { host, port: Number(port) };
  }

  superuser(): { user: string; password: string } {
    const a = this.config(this.pods()[0]).postgresql.authentication.superuser;
    return { user: a.username, password: a.password };
  }

  /** ttl, loop_wait, retry_timeout as bootstrapped (Patroni's defaults where unset). */
  timing(): DcsTiming {
    const d = this.config(this.pods()[0]).bootstrap?.dcs ?? {};
    return { ttl: Number(d.ttl ?? 30), loop_wait: Number(d.loop_wait ?? 10), retry_timeout: Number(d.retry_timeout ?? 10) };
  }

  /** Sync standbys a healthy cluster has: synchronous_node_count (default 1) in synchronous mode, bounded by the replicas. */
  expectedSyncStandbys(): number {
    const d = this.config(this.pods()[0]).bootstrap?.dcs ?? {};
    const mode = d.synchronous_mode;
    if (!(mode === true || mode === 'on' || mode === 'true' || mode === 'quorum')) return 0;
    return Math.min(Number(d.synchronous_node_count ?? 1), this.pods().length - 1);
  }

  /** Patroni's view of the cluster from the first member that answers. */
  async cluster(): Promise<PatroniMember[] | undefined> {
    for (const p of this.pods()) {
      const { host, port } = this.restApi(p);
      const r = await httpJson<{ members: PatroniMember[] }>(host, port, '/cluster', 800);
      if (r?.members) return r.members;
    }
    return undefined;
  }

  async status(p: LocalPod): Promise<Record<string, any> | undefined> {
    const { host, port } = this.restApi(p);
    return httpJson(host, port, '/patroni', 800);
  }

  /** The member whose `/primary` answers 200. */
  async leaderPod(): Promise<LocalPod | undefined> {
    for (const p of this.pods()) {
      const { host, port } = this.restApi(p);
      if ((await httpStatus(host, port, '/primary', 'GET', 800)) === 200) return p;
    }
    return undefined;
  }

  /** Replica p answers `/replica` and streams from leader l (pg_stat_replication on l). */
  async streamingFrom(p: LocalPod, l: LocalPod): Promise<boolean> {
    const { host, port } = this.restApi(p);
    if ((await httpStatus(host, port, '/replica', 'GET', 800)) !== 200) return false;
    const su = this.superuser();
    const rows = await tryQuery<{ n: string }>(
      { ...this.pgAddress(l), user: su.user, password: su.password, database: 'postgres', sslmode: 'require' },
      "SELECT count(*)::text AS n FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
      [p.name],
      1000,
    );
    return rows?.[0]?.n === '1';
  }

  /** Wait for: 1 leader, every other member a replica streaming with lag 0 (Patroni 4 reports `streaming` from its WAL receiver), the expected sync standbys. */
  async waitHealthy({ timeoutMs = 120000 }: { timeoutMs?: number } = {}): Promise<PatroniMember[]> {
    let last: PatroniMember[] | undefined;
    const t0 = Date.now();
    const sync = this.expectedSyncStandbys();
    const members = await waitFor(
      `healthy cluster (1 leader, ${this.pods().length - 1} replicas streaming with lag 0, ${sync} sync standby)`,
      async () => {
        last = await this.cluster();
        if (!last || last.length !== this.pods().length) return undefined;
        const leaders = last.filter((m) => m.role === 'leader' && m.state === 'running');
        const replicas = last.filter((m) => m.role !== 'leader');
        const okReplicas = replicas.every((m) => m.state === 'streaming' && (m.lag === 0 || m.lag === '0'));
        const syncs = last.filter((m) => m.role === 'sync_standby').length;
        return leaders.length === 1 && okReplicas && syncs >= sync ? last : undefined;
      },
      { timeoutMs, intervalMs: 200, describe: () => JSON.stringify(last?.map((m) => [m.name, m.role, m.state, m.lag])) },
    );
    log(`cluster healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${members.map((m) => `${m.name}=${m.role}`).join(' ')}`);
    return members;
  }
}
