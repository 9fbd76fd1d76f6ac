/*
 * An application's connections through a Service: its connection settings (TLS required), which
 * server answers a query, and a read load (one connection per read).
 */
import { PgConn, query } from '../pg';
import { sleep } from '../poll';

export function serviceConn(svc: { host: string; port: number }, creds: { user: string; password: string; database: string }): PgConn {
  return { host: svc.host, port: svc.port, user: creds.user, password: creds.password, database: creds.database, sslmode: 'require' };
}

/** Which server answers a query through a Service, and whether it is in recovery. */
export async function whoAnswers(conn: PgConn, timeoutMs = 5000): Promise<{ ip: string; r: boolean }> {
  const rows = await query<{ ip: string; r: boolean }>(conn, 'SELECT host(inet_server_addr()) AS ip, pg_is_in_recovery() AS r', [], timeoutMs);
  return rows[0];
}

/** Reads through a Service, one connection per read, bounded in time. */
export class ReadLoad {
  samples: Array<{ at: number; ok: boolean; server?: string; recovery?: boolean; err?: string }> = [];
  private running = false;
  private done?: Promise<void>;

  constructor(
    readonly conn: PgConn,
    readonly pauseMs = 50,
    readonly maxMs = 120000,
    /** how long one read (connecting included) may take before it counts as failed */
    readonly readTimeoutMs = 2000,
  ) {}

  start(): void {
    this.running = true;
    this.done = (async () => {
      const until = Date.now() + this.maxMs;
      while (this.running && Date.now() < until) {
        try {
          const r = await whoAnswers({ connectTimeoutMs: this.readTimeoutMs, ...this.conn }, this.readTimeoutMs);
          this.samples.push({ at: Date.now(), ok: true, server: r.ip, recovery: r.r });
        } catch (e) {
          this.samples.push({ at: Date.now(), ok: false, err: (e as Error).message });
        }
        await sleep(this.pauseMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  between(a: number, b: number): ReadLoad['samples'] {
    return this.samples.filter((s) => s.at >= a && s.at <= b);
  }
}
