/* HTTP probes and polling waits: every wait polls real state, bounded by a deadline. */
import * as http from 'http';

export interface HttpResult {
  status: number;
  body: string;
}

export function httpRequest(
  host: string,
  port: number,
  path: string,
  { method = 'GET', timeoutMs = 1000 }: { method?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout ${method} http://${host}:${port}${path}`)));
    req.on('error', reject);
    req.end();
  });
}

export async function httpStatus(host: string, port: number, path: string, method = 'GET', timeoutMs = 1000): Promise<number> {
  try {
    return (await httpRequest(host, port, path, { method, timeoutMs })).status;
  } catch {
    return 0;
  }
}

export async function httpJson<T = unknown>(host: string, port: number, path: string, timeoutMs = 1000): Promise<T | undefined> {
  try {
    const r = await httpRequest(host, port, path, { timeoutMs });
    return JSON.parse(r.body) as T;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `probe` every `intervalMs` until it returns a truthy value or the
 * deadline passes; throws with the last observed state on timeout.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false | null>,
  { timeoutMs, intervalMs = 100, describe }: { timeoutMs: number; intervalMs?: number; describe?: () => Promise<string> | string },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) {
      const state = describe ? await describe() : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state ? `; last state: ${state}` : ''}`);
    }
    await sleep(intervalMs);
  }
}
