/* Bounded polling for the controllers: every wait re-reads real state until a deadline. */
export interface ControllerOptions {
  /** How often waits re-read the pods (default 200 ms). */
  pollMs?: number;
  /** How long a pod may take to become Ready (default 180 s). */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export async function waitUntil(done: () => boolean, what: string, opts: ControllerOptions): Promise<void> {
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 180_000);
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.readyTimeoutMs ?? 180_000} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}

/** Runs the operations on one key (a workload) one after the other: a second apply waits for the rollout of the first. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, op: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(op);
    this.tails.set(key, next);
    void next.catch(() => undefined).finally(() => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    return next;
  }
}
