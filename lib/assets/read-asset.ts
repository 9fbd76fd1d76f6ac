/** The SQL, shell and Python files in this folder: text reviewers read as files, shipped in ConfigMaps. */
import { readFileSync } from 'fs';
import { join } from 'path';

/** The content of `name` in lib/assets/. */
export function readAsset(name: string): string {
  return readFileSync(join(__dirname, name), 'utf8');
}

/** The Jobs' Kubernetes API client, a module every script that calls the API imports (kube_lease.py, app_secret.py). */
export const KUBE_API_MODULE = 'kube_api.py';
