/* Container paths -> host paths: each volume mount is a directory of the pod; the rest of the container filesystem is <pod>/rootfs. */
import * as path from 'path';

export interface Mount {
  mountPath: string;
  hostPath: string;
}

export class PathMap {
  constructor(readonly mounts: Mount[], readonly rootfs: string) {
    this.mounts = [...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length);
  }

  /** Host path for an absolute container path. */
  host(p: string): string {
    const n = path.posix.normalize(p);
    for (const m of this.mounts) {
      const mp = m.mountPath.replace(/\/$/, '');
      if (n === mp) return m.hostPath;
      if (n.startsWith(mp + '/')) return path.join(m.hostPath, n.slice(mp.length + 1));
    }
    return path.join(this.rootfs, n);
  }

  /** Rewrite every occurrence of a mount path in free text (scripts, args). Returns the text and how many were replaced. */
  rewriteText(s: string): { text: string; count: number } {
    let count = 0;
    let text = s;
    for (const m of this.mounts) {
      const mp = m.mountPath.replace(/\/$/, '');
      const re = new RegExp(`(^|[\\s"'=:(])${escapeRe(mp)}(?=/|$|[\\s"';)])`, 'g');
      text = text.replace(re, (_all, pre: string) => {
        count++;
        return pre + m.hostPath;
      });
    }
    return { text, count };
  }
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
