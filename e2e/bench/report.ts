/* What the benchmarks share for their reports: the section of docs/BENCHMARKS.md between a benchmark's markers, statistics, the load average, the machine. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { log } from '../lib/log';

/**
 * Replace the block between `<!-- <key>:start -->` and `<!-- <key>:end -->` in `file` with `section`;
 * without the markers, append the block under `heading`.
 */
export function writeBenchSection(file: string, key: string, heading: string, section: string): void {
  const start = `<!-- ${key}:start -->`;
  const end = `<!-- ${key}:end -->`;
  const block = `${start}\n${section}\n${end}`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  if (doc.includes(start) && doc.includes(end)) {
    doc = doc.slice(0, doc.indexOf(start)) + block + doc.slice(doc.indexOf(end) + end.length);
  } else {
    doc = `${doc.trimEnd()}\n\n## ${heading}\n\n${block}\n`;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, doc);
  log(`results written to ${file}`);
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** `min / median / max` of the values, `-` when there are none. */
export function minMedianMax(xs: number[], digits = 2): string {
  if (!xs.length) return '-';
  return [Math.min(...xs), median(xs), Math.max(...xs)].map((x) => x.toFixed(digits)).join(' / ');
}

/** The machine's 1-minute load average, sampled every `everyMs` until `stop()`; the report states it. */
export class LoadSampler {
  readonly samples: number[] = [os.loadavg()[0]];
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 10000) {
    this.timer = setInterval(() => this.samples.push(os.loadavg()[0]), everyMs);
    this.timer.unref();
  }

  stop(): string {
    clearInterval(this.timer);
    this.samples.push(os.loadavg()[0]);
    return minMedianMax(this.samples, 1);
  }
}

/** One line naming the machine and the bed, for a benchmark's report. */
export function machineLine(): string {
  const cpu = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const osName = /PRETTY_NAME="(.+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
  return `${osName}, kernel ${os.release()}, ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}`;
}
