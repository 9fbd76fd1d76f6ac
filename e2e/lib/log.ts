/* Test bed log: one line per event, timestamped, to stdout and to the run's log file. */
import * as fs from 'fs';

let logFile: number | undefined;
const t0 = Date.now();
let quiet = process.env.E2E_QUIET === '1';

export function setLogFile(path: string): void {
  if (logFile !== undefined) fs.closeSync(logFile);
  logFile = fs.openSync(path, 'a');
}

export function setQuiet(q: boolean): void {
  quiet = q;
}

function stamp(): string {
  return `${new Date().toISOString().slice(11, 23)} +${((Date.now() - t0) / 1000).toFixed(1)}s`;
}

export function log(msg: string): void {
  const line = `[e2e ${stamp()}] ${msg}\n`;
  if (!quiet) process.stdout.write(line);
  if (logFile !== undefined) fs.writeSync(logFile, line);
}

/** A translation from the manifests to the local programs: always printed. */
export function translation(what: string, from: string, to: string): void {
  const line = `[e2e ${stamp()}] TRANSLATE ${what}: ${from} -> ${to}\n`;
  process.stdout.write(line);
  if (logFile !== undefined) fs.writeSync(logFile, line);
}

export function logFileOnly(msg: string): void {
  if (logFile !== undefined) fs.writeSync(logFile, `[e2e ${stamp()}] ${msg}\n`);
}
