/**
 * The folders of lib/ are layers, and every import points down (docs/architecture.md): settings know
 * nothing of the Kubernetes building blocks or the components that consume them, so the settings
 * layer (pg-ha.env, the compose variables, validation of every value) can be read and tested alone.
 */
import { readdirSync, readFileSync, statSync } from 'fs';
import { dirname, join, relative, resolve } from 'path';

const LIB = join(__dirname, '..', '..', 'lib');

/** What each folder of lib/ may import from lib/ (besides itself); lib/*.ts files (chart, cli, index) may import anything. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  'validation.ts': [],
  settings: ['validation.ts'],
  k8s: ['settings', 'validation.ts'],
  assets: [],
  components: ['k8s', 'settings', 'validation.ts', 'assets'],
  'cluster-wide': ['components', 'k8s', 'settings', 'validation.ts', 'assets'],
  gitops: ['k8s', 'settings', 'validation.ts'],
  // `npm run status`: reads the running cluster through kubectl, the namespace and scope from the settings
  status: ['settings', 'validation.ts'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === '__pycache__' ? [] : sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The lib/ layer (first path segment under lib/) of each relative import of `file` that stays inside lib/. */
function importedLayers(file: string, text = readFileSync(file, 'utf8')): Array<{ spec: string; layer: string }> {
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)'(\.[^']*)'/g)].map((m) => m[1]);
  return specs.flatMap((spec) => {
    const target = relative(LIB, resolve(dirname(file), spec));
    if (target.startsWith('..')) return [];
    const first = target.split('/')[0];
    return [{ spec, layer: target.includes('/') ? first : `${first.replace(/\.ts$/, '')}.ts` }];
  });
}

const layerOf = (file: string) => relative(LIB, file).split('/')[0];
const upwardImports = (file: string, text?: string) => {
  const layer = layerOf(file);
  return importedLayers(file, text).filter((i) => i.layer !== layer && !MAY_IMPORT[layer].includes(i.layer)).map((i) => `${relative(LIB, file)} imports '${i.spec}'`);
};

describe('imports between the layers of lib/', () => {
  const files = sourceFiles(LIB);

  test('every folder of lib/ is a known layer (a new one gets its place here)', () => {
    const folders = readdirSync(LIB).filter((n) => statSync(join(LIB, n)).isDirectory() && n !== '__pycache__');
    expect(folders.filter((f) => !(f in MAY_IMPORT))).toEqual([]);
  });

  test.each(Object.keys(MAY_IMPORT))('%s imports only from the layers below it', (layer) => {
    const inLayer = files.filter((f) => layerOf(f) === layer);
    expect(inLayer.length).toBeGreaterThan(0);
    expect(inLayer.flatMap((file) => upwardImports(file))).toEqual([]);
  });

  test('the check sees an upward import, and ignores packages and files outside lib/', () => {
    const file = join(LIB, 'settings', 'example.ts');
    const text = [
      "import { etcdClientEndpoints } from '../components/etcd/etcd-cluster';",
      "import { serviceFqdn } from '../k8s/dns-names';",
      "import { ConfigError } from '../validation';",
      "import { DEFAULTS } from './defaults';",
      "import { k8s } from 'cdk8s-plus-28';",
      "import { PodMonitor } from '../../imports/podmonitor-monitoring.coreos.com';",
    ].join('\n');
    expect(upwardImports(file, text)).toEqual([
      "settings/example.ts imports '../components/etcd/etcd-cluster'",
      "settings/example.ts imports '../k8s/dns-names'",
    ]);
  });
});
