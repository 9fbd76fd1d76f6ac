/* What every program adapter needs: the translator, the Debian root and the bench's overrides. */
import * as fs from 'fs';
import type { DebianRoot } from '../debian-root';
import type { Translator } from '../translation';

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface ProgramOverrides {
  /** change SPILO_CONFIGURATION before use (bench: other timings); printed */
  spiloOverride?: { describe: string; apply: (userConfig: Record<string, any>) => Record<string, any> };
  /** extra options appended to every `default-server` line of haproxy.cfg (bench profiles); printed */
  haproxyDefaultServerExtra?: string;
}

export interface ProgramContext {
  translator: Translator;
  root: DebianRoot;
  overrides: ProgramOverrides;
  runDir: string;
  /** the test bed's DNS server (HAProxy's resolvers) */
  dnsAddress: string;
  /** pod name -> the Patroni configuration its Spilo container runs with */
  patroniConfigs: Map<string, Record<string, any>>;
}

/** chown a directory tree, without descending into directories the user already owns (a data dir). */
export function chownTree(dir: string, uid: number, gid: number, skip: string[] = []): void {
  const st = fs.lstatSync(dir);
  if (st.uid !== uid || st.gid !== gid) fs.lchownSync(dir, uid, gid);
  if (!st.isDirectory()) return;
  for (const e of fs.readdirSync(dir)) {
    const p = `${dir}/${e}`;
    if (skip.includes(p)) continue;
    const s2 = fs.lstatSync(p);
    if (s2.isDirectory() && s2.uid === uid) continue;
    chownTree(p, uid, gid, skip);
  }
}
