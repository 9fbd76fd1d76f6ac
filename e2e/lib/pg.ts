/*
 * PostgreSQL clients for the tests. Timeouts are client-side socket timeouts
 * (connect 1 s, query read timeout), never statement_timeout: in synchronous
 * mode a cancelled commit that waits on the sync standby returns success with
 * a WARNING, which would be a false acknowledgement.
 */
import { Client, ClientConfig } from 'pg';
import { log } from './log';
import { sleep } from './poll';

export interface PgConn {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** like libpq sslmode: 'require' encrypts without verifying, 'disable' plain */
  sslmode?: 'require' | 'disable';
  /** how long connecting (TCP, TLS, authentication) may take; default 1000 ms */
  connectTimeoutMs?: number;
}

export function clientConfig(c: PgConn, queryTimeoutMs = 5000): ClientConfig {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    ssl: c.sslmode === 'disable' ? false : { rejectUnauthorized: false },
    connectionTimeoutMillis: c.connectTimeoutMs ?? 1000,
    query_timeout: queryTimeoutMs,
    keepAlive: true,
    application_name: 'pgha-e2e',
  };
}

/** Destroy the socket at once (client.end() may wait on a dead server). */
export function destroyClient(cl: Client): void {
  try {
    (cl as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  } catch {
    /* ignore */
  }
  cl.end().catch(() => undefined);
}

/** One connection, one query, closed. Throws on any error. */
export async function query<R extends Record<string, unknown> = Record<string, unknown>>(
  c: PgConn,
  sql: string,
  params: unknown[] = [],
  queryTimeoutMs = 5000,
): Promise<R[]> {
  const cl = new Client(clientConfig(c, queryTimeoutMs));
  cl.on('error', () => undefined);
  try {
    await cl.connect();
    const r = await cl.query(sql, params);
    return r.rows as R[];
  } finally {
    destroyClient(cl);
  }
}

export async function tryQuery<R extends Record<string, unknown> = Record<string, unknown>>(
  c: PgConn,
  sql: string,
  params: unknown[] = [],
  queryTimeoutMs = 2000,
): Promise<R[] | undefined> {
  try {
    return await query<R>(c, sql, params, queryTimeoutMs);
  } catch {
    return undefined;
  }
}

export interface Ack {
  id: number;
  sentAt: number;
  ackAt: number;
  server: string;
}

export interface WriteError {
  at: number;
  message: string;
}

/**
 * "read-only transaction" and the connection errors of a failover are retryable; so is PgBouncer's
 * answer while its server (the old primary) is gone: "server login has been failing, cached error: ...".
 */
export function isRetryable(msg: string): boolean {
  return /read-only transaction|terminating connection|connection|ECONNRESET|ECONNREFUSED|EPIPE|timeout|shut ?down|recovery|starting up|Connection terminated|not accepting|the database system is|server login has been failing|server conn crashed/i.test(
    msg,
  );
}

/**
 * Continuous writes through a Service: one INSERT at a time (autocommit),
 * reconnect after any error. Records every acknowledged id with the server
 * address that acknowledged it. Bounded: stops by itself after maxMs.
 */
export class WriteLoad {
  acks: Ack[] = [];
  errors: WriteError[] = [];
  private nextId: number;
  private running = false;
  private done?: Promise<void>;
  private client?: Client;
  private waiters: Array<{ after: number; pred: (a: Ack) => boolean; resolve: (a: Ack) => void }> = [];
  readonly pauseMs: number;
  readonly maxMs: number;

  constructor(
    readonly conn: PgConn,
    readonly table: string,
    { firstId = 1, pauseMs = 10, maxMs = 10 * 60 * 1000 }: { firstId?: number; pauseMs?: number; maxMs?: number } = {},
  ) {
    this.nextId = firstId;
    this.pauseMs = pauseMs;
    this.maxMs = maxMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Resolves with the first acknowledgement that arrives after time t (ms epoch). */
  firstAckAfter(t: number, pred: (a: Ack) => boolean = () => true): Promise<Ack> {
    const found = this.acks.find((a) => a.ackAt > t && pred(a));
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ after: t, pred, resolve }));
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  private async loop(): Promise<void> {
    const until = Date.now() + this.maxMs;
    while (this.running && Date.now() < until) {
      try {
        if (!this.client) {
          const cl = new Client(clientConfig(this.conn, 3000));
          cl.on('error', () => undefined);
          this.client = cl;
          await cl.connect();
        }
        const id = this.nextId++;
        const sentAt = Date.now();
        const r = await this.client.query(`INSERT INTO ${this.table} (id) VALUES ($1) RETURNING host(inet_server_addr()) AS server`, [id]);
        const ack: Ack = { id, sentAt, ackAt: Date.now(), server: String(r.rows[0].server) };
        this.acks.push(ack);
        const ws = this.waiters;
        this.waiters = [];
        for (const w of ws) {
          if (ack.ackAt > w.after && w.pred(ack)) w.resolve(ack);
          else this.waiters.push(w);
        }
        if (this.pauseMs) await sleep(this.pauseMs);
      } catch (e) {
        const message = (e as Error).message;
        this.errors.push({ at: Date.now(), message });
        if (!isRetryable(message)) log(`write load: unexpected error: ${message}`);
        if (this.client) destroyClient(this.client);
        this.client = undefined;
        await sleep(50);
      }
    }
    if (this.client) destroyClient(this.client);
    this.client = undefined;
    this.running = false;
  }
}
