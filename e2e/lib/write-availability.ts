/*
 * What a rollout did to the writes flowing through the write Service, from the write load's
 * acknowledgements and errors: how long writes could not be acknowledged, and how often the
 * server that acknowledged them changed (a leader change).
 */

/** One acknowledged write (the same shape as the write load's). */
export interface AckedWrite {
  ackAt: number;
  server: string;
}

/** One failed write attempt. */
export interface FailedWrite {
  at: number;
}

export interface WriteWindow {
  fromMs: number;
  toMs: number;
  failedAttempts: number;
}

export interface WriteAvailability {
  /** Seconds without an acknowledged write, summed over every window (see `writeUnavailability`). */
  unavailableS: number;
  windows: WriteWindow[];
  /** Times the acknowledging server changed between consecutive acknowledgements. */
  serverChanges: number;
}

/**
 * A window of unavailability is the time between two consecutive acknowledgements when a write
 * failed in between, or when they are further apart than `stallMs` (a write that hangs, e.g. a
 * commit waiting for a synchronous standby, is unavailability too). The write load sends the next
 * write as soon as the previous one is answered, so without trouble acknowledgements are a few
 * milliseconds apart.
 */
export function writeUnavailability(acks: AckedWrite[], failures: FailedWrite[], stallMs = 1000): WriteAvailability {
  const sorted = [...acks].sort((a, b) => a.ackAt - b.ackAt);
  const fails = [...failures].map((f) => f.at).sort((a, b) => a - b);
  const windows: WriteWindow[] = [];
  let serverChanges = 0;
  for (let i = 1; i < sorted.length; i++) {
    const [prev, next] = [sorted[i - 1], sorted[i]];
    if (prev.server !== next.server) serverChanges++;
    const failedAttempts = fails.filter((t) => t > prev.ackAt && t <= next.ackAt).length;
    if (failedAttempts > 0 || next.ackAt - prev.ackAt > stallMs) windows.push({ fromMs: prev.ackAt, toMs: next.ackAt, failedAttempts });
  }
  const unavailableS = windows.reduce((sum, w) => sum + (w.toMs - w.fromMs), 0) / 1000;
  return { unavailableS, windows, serverChanges };
}
