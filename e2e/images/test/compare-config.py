#!/usr/bin/env python3
"""Compares the Spilo image's configuration (configure_spilo.py --print --json --as-spilo) with
e2e/images/test/spilo-config.ts's (test/spilo-parity.ts), for e2e/images/check.sh.

  compare-config.py EXPECTED.json ACTUAL.json

The one known difference is removed first and reported: Spilo's append_extensions adds timescaledb,
pg_cron, pg_stat_kcache (shared_preload_libraries) and timescaledb, pg_partman (extwlist.extensions)
for PostgreSQL 17, which the TypeScript model leaves out. Prints "same" or every differing path.
"""
import json
import sys

SPILO_EXTRA = {'timescaledb', 'pg_cron', 'pg_stat_kcache', 'pg_partman'}


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append('{0}.{1}: only in the image: {2}'.format(path, k, json.dumps(b[k])[:200]))
            elif k not in b:
                out.append('{0}.{1}: only in the model: {2}'.format(path, k, json.dumps(a[k])[:200]))
            else:
                diff(a[k], b[k], path + '.' + k, out)
    elif a != b:
        out.append('{0}: model {1} != image {2}'.format(path, json.dumps(a)[:200], json.dumps(b)[:200]))


expected = json.load(open(sys.argv[1]))
actual = json.load(open(sys.argv[2]))
params = actual.get('postgresql', {}).get('parameters', {})
removed = []
for key in ('shared_preload_libraries', 'extwlist.extensions'):
    if key in params:
        names = params[key].split(',')
        removed += ['{0}:{1}'.format(key, n) for n in names if n in SPILO_EXTRA]
        params[key] = ','.join(n for n in names if n not in SPILO_EXTRA)
out = []
diff(expected, actual, '', out)
print('\n'.join(out) if out else 'same (known: Spilo\'s append_extensions adds {0})'.format(', '.join(removed) or 'nothing'))
