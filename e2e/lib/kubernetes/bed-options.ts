/*
 * What a run of the real-Kubernetes bed is given: its address block (bed-network.ts) and the
 * manifests under test.
 *
 *   E2E_KUBERNETES_BLOCK  base block of this run (default 0); each bed of the run adds its own offset
 *   E2E_DIST              the manifests to deploy (default: the repository's dist/)
 */
import * as path from 'path';

export function bedBlock(offset: number): number {
  const raw = process.env.E2E_KUBERNETES_BLOCK ?? '0';
  const base = Number(raw);
  if (!/^\d+$/.test(raw) || base + offset > 31) throw new Error(`E2E_KUBERNETES_BLOCK must be a whole number 0..${31 - offset} (got ${JSON.stringify(raw)})`);
  return base + offset;
}

export function distUnderTest(): string {
  return process.env.E2E_DIST ?? path.join(__dirname, '..', '..', '..', 'dist');
}
