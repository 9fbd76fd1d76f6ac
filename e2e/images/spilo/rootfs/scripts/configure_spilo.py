#!/usr/bin/env python3
"""Spilo's configure step for the e2e stand-in of ghcr.io/zalando/spilo-17:4.0-p3.

Our own code, ported from e2e/images/test/spilo-config.ts (checked against Spilo 4.0-p3's
scripts/configure_spilo.py), for what a Kubernetes pod of this project uses:

  - placeholders: the image's ENV and the container's environment, with Spilo's defaults;
  - the generated Patroni configuration (Spilo's template): bootstrap.dcs, initdb, restapi,
    postgresql (parameters, pg_hba, authentication, callbacks, replica methods);
  - the DCS from <DCS>_<PARAM> variables (ETCD3_HOSTS -> etcd3.hosts, *_HOSTS wrapped in [...] and
    read as YAML; ETCD3_PROTOCOL/CACERT/CERT/KEY/USERNAME/PASSWORD/...), or the Kubernetes DCS when
    KUBERNETES_SERVICE_HOST and DCS_ENABLE_KUBERNETES_API are both set;
  - SPILO_CONFIGURATION (else PATRONI_CONFIGURATION) deep-merged over it: dicts merge, the user's
    values win, the user's lists replace generated ones;
  - bin_dir from PGDATA/PG_VERSION, PGVERSION or `postgres` on PATH; Spilo's extra libraries;
  - the server certificate (SSL_CERTIFICATE/SSL_PRIVATE_KEY/SSL_CA/SSL_CRL written to their *_FILE
    paths, else a self-signed one), the REST API's (SSL_RESTAPI_*), /run/postgresql;
  - /run/postgres.yml (the file Spilo's runit service hands to Patroni via $PGHOME/postgres.yml).

What Debian 13 cannot run the way the Spilo image does is changed after the merge, each change
printed on a line starting with "spilo stand-in:": libraries Debian does not package are dropped
from shared_preload_libraries (with their parameters), Spilo's post_init.sh is dropped, its
basebackup.sh replica method becomes Patroni's built-in basebackup, an initdb locale the image
lacks becomes C.UTF-8. Spilo's backups (WAL-E/WAL-G), clone and standby-from-archive, log
shipping, crontab, pgbouncer, pgqd and PAM OAuth2 sections are not emulated: their variables are
reported and ignored.

Usage: configure_spilo.py [--print [--json] [--as-spilo]]
  --print     write the configuration to stdout (YAML, or JSON with --json) and touch nothing
  --as-spilo  with --print: the configuration as Spilo itself writes it, before this image's changes
"""
import copy
import json
import os
import re
import socket
import subprocess
import sys

import yaml

PATRONI_DCS = ('kubernetes', 'zookeeper', 'exhibitor', 'consul', 'etcd3', 'etcd')
KUBERNETES_DEFAULT_LABELS = '{"application": "spilo"}'
LIB_DIR = '/usr/lib/postgresql'
# Spilo's spilo_commons.extensions: name -> (min_version, max_version, preload, extwlist)
EXTENSIONS = {
    'timescaledb': (9.6, 17, True, True),
    'pg_cron': (9.5, 17, True, False),
    'pg_stat_kcache': (9.4, 17, True, False),
    'pg_partman': (9.4, 17, False, True),
}
# Spilo's variables for features this stand-in does not emulate (reported when set)
NOT_EMULATED = ('WAL_S3_BUCKET', 'WALE_S3_PREFIX', 'WALG_S3_PREFIX', 'WALG_AZ_PREFIX', 'WALG_SSH_PREFIX',
                'WAL_GS_BUCKET', 'WAL_GCS_BUCKET', 'WALE_GS_PREFIX', 'WALG_GS_PREFIX', 'WAL_SWIFT_BUCKET',
                'WALE_SWIFT_PREFIX', 'CLONE_METHOD', 'STANDBY_HOST', 'STANDBY_WITH_WALE', 'PAM_OAUTH2',
                'LOG_S3_BUCKET', 'CRONTAB', 'USE_PGBOUNCER', 'ENABLE_PG_MON')


def say(message):
    print('configure_spilo: ' + message, file=sys.stderr, flush=True)


def stand_in(message):
    say('spilo stand-in: ' + message)


def deep_update(a, b):
    """Spilo's deep_update(a=user, b=generated): dicts merge recursively, a wins, a's lists replace b's."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in b:
            a[key] = deep_update(a[key], b[key]) if key in a else b[key]
        return a
    if isinstance(a, list) and isinstance(b, list):
        return a
    return a if a is not None else b


def memory_mb():
    """The container's memory limit (cgroup v1, else v2), capped by the machine's RAM, in MB."""
    limit = sys.maxsize
    for path in ('/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.max'):
        if os.path.exists(path):
            try:
                with open(path) as f:
                    limit = int(f.read()) / 1048576
            except ValueError:  # "max"
                limit = 0x7FFFFFFFFFF
            break
    return min(limit, os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1048576)


def format_url(host, port):
    return '[{0}]:{1}'.format(host, port) if ':' in host else '{0}:{1}'.format(host, port)


def get_placeholders(env):
    p = dict(env)
    d = p.setdefault
    d('PGHOME', os.path.expanduser('~'))
    d('RW_DIR', '/run')
    d('PGROOT', os.path.join(p['PGHOME'], 'pgroot'))
    d('PGDATA', os.path.join(p['PGROOT'], 'pgdata'))
    d('APIPORT', '8008')
    d('HUMAN_ROLE', 'zalandos')
    d('PGUSER_STANDBY', 'standby')
    d('PGPASSWORD_STANDBY', 'standby')
    d('USE_ADMIN', 'PGPASSWORD_ADMIN' in p)
    d('PGUSER_ADMIN', 'admin')
    d('PGPASSWORD_ADMIN', 'cola')
    d('PGUSER_SUPERUSER', 'postgres')
    d('PGPASSWORD_SUPERUSER', 'zalando')
    d('ALLOW_NOSSL', '')
    d('BGMON_LISTEN_IP', '0.0.0.0')
    d('PGPORT', '5432')
    d('SCOPE', 'dummy')
    d('SSL_CA_FILE', '')
    d('SSL_CRL_FILE', '')
    d('SSL_CERTIFICATE_FILE', os.path.join(p['RW_DIR'], 'certs', 'server.crt'))
    d('SSL_PRIVATE_KEY_FILE', os.path.join(p['RW_DIR'], 'certs', 'server.key'))
    d('SSL_RESTAPI_CA_FILE', '')
    d('SSL_RESTAPI_CERTIFICATE_FILE', '')
    d('SSL_RESTAPI_PRIVATE_KEY_FILE', '')
    d('INITDB_LOCALE', 'en_US')
    d('CALLBACK_SCRIPT', '')
    d('DCS_ENABLE_KUBERNETES_API', '')
    d('KUBERNETES_ROLE_LABEL', 'spilo-role')
    d('KUBERNETES_LEADER_LABEL_VALUE', 'master')
    d('KUBERNETES_STANDBY_LEADER_LABEL_VALUE', 'master')
    d('KUBERNETES_SCOPE_LABEL', 'version')
    d('KUBERNETES_LABELS', KUBERNETES_DEFAULT_LABELS)
    d('KUBERNETES_USE_CONFIGMAPS', '')
    d('KUBERNETES_BYPASS_API_SERVICE', 'true')
    d('KUBERNETES_BOOTSTRAP_LABELS', '{}')
    d('LOG_SHIP_HOURLY', '')
    use_kubernetes = 'KUBERNETES_SERVICE_HOST' in env
    d('NAMESPACE', p.get('POD_NAMESPACE', 'default') if use_kubernetes and p.get('DCS_ENABLE_KUBERNETES_API') else '')
    p['LOG_SHIP_HOURLY'] = 'true' if str(p.get('LOG_SHIP_HOURLY', '')).lower() == 'true' else ''
    # Kubernetes needs a callback that moves the role label to the new primary
    if use_kubernetes and not p.get('DCS_ENABLE_KUBERNETES_API'):
        p['CALLBACK_SCRIPT'] = 'python3 /scripts/callback_role.py'
    if 'SSL_CA' in p and p['SSL_CA_FILE'] == '':
        p['SSL_CA_FILE'] = os.path.join(p['RW_DIR'], 'certs', 'ca.crt')
    if 'SSL_CRL' in p and p['SSL_CRL_FILE'] == '':
        p['SSL_CRL_FILE'] = os.path.join(p['RW_DIR'], 'certs', 'server.crl')
    if {'SSL_RESTAPI_CERTIFICATE', 'SSL_RESTAPI_PRIVATE_KEY'} <= set(p):
        if not p['SSL_RESTAPI_CERTIFICATE_FILE']:
            p['SSL_RESTAPI_CERTIFICATE_FILE'] = os.path.join(p['RW_DIR'], 'certs', 'rest-api-server.crt')
        if not p['SSL_RESTAPI_PRIVATE_KEY_FILE']:
            p['SSL_RESTAPI_PRIVATE_KEY_FILE'] = os.path.join(p['RW_DIR'], 'certs', 'restapi-api-server.key')
    if p.get('SSL_RESTAPI_CA') and not p['SSL_RESTAPI_CA_FILE']:
        p['SSL_RESTAPI_CA_FILE'] = os.path.join(p['RW_DIR'], 'certs', 'rest-api-ca.crt')
    return p, use_kubernetes


def generated_config(p, use_kubernetes, mem_mb, ip, name):
    """Spilo's TEMPLATE for these placeholders (no WAL-E, clone or standby parts)."""
    shared_buffers = '{0}MB'.format(int(mem_mb / (5 if use_kubernetes else 4)))
    max_connections = min(max(100, int(mem_mb / 30)), 1000)
    callback = p['CALLBACK_SCRIPT']
    hourly = bool(p['LOG_SHIP_HOURLY'])
    standby = p['PGUSER_STANDBY']
    restapi = {'listen': ':' + p['APIPORT'], 'connect_address': p['RESTAPI_CONNECT_ADDRESS'] if 'RESTAPI_CONNECT_ADDRESS' in p else format_url(ip, p['APIPORT'])}
    for key, var in (('cafile', 'SSL_RESTAPI_CA_FILE'), ('certfile', 'SSL_RESTAPI_CERTIFICATE_FILE'), ('keyfile', 'SSL_RESTAPI_PRIVATE_KEY_FILE')):
        if p[var]:
            restapi[key] = p[var]
    parameters = {
        'archive_command': '/bin/true',
        'shared_buffers': shared_buffers,
        'logging_collector': 'on',
        'log_destination': 'csvlog',
        'log_directory': '../pg_log',
        'log_filename': 'postgresql-%u-%H.log' if hourly else 'postgresql-%u.log',
        'log_file_mode': '0644',
        'log_rotation_age': '1h' if hourly else '1d',
        'log_truncate_on_rotation': 'on',
        'ssl': 'on',
    }
    if p['SSL_CA_FILE']:
        parameters['ssl_ca_file'] = p['SSL_CA_FILE']
    if p['SSL_CRL_FILE']:
        parameters['ssl_crl_file'] = p['SSL_CRL_FILE']
    parameters.update({
        'ssl_cert_file': p['SSL_CERTIFICATE_FILE'],
        'ssl_key_file': p['SSL_PRIVATE_KEY_FILE'],
        'shared_preload_libraries': 'bg_mon,pg_stat_statements,pgextwlist,pg_auth_mon,set_user',
        'bg_mon.listen_address': p['BGMON_LISTEN_IP'],
        'bg_mon.history_buckets': 120,
        'pg_stat_statements.track_utility': 'off',
        'extwlist.extensions': 'btree_gin,btree_gist,citext,extra_window_functions,first_last_agg,hll,hstore,hypopg,'
                               'intarray,ltree,pgcrypto,pgq,pgq_node,pg_trgm,postgres_fdw,roaringbitmap,tablefunc,uuid-ossp,vector',
        'extwlist.custom_path': '/scripts',
    })
    pg_hba = [
        'local   all             all                                   trust',
        'host    all             all                127.0.0.1/32       md5',
        'host    all             all                ::1/128            md5',
        'local   replication     {0}                    trust'.format(standby),
        'hostssl replication     {0} all                md5'.format(standby),
    ]
    if p['ALLOW_NOSSL']:
        pg_hba.append('host    all             all                all                md5')
    else:
        pg_hba += ['hostnossl all           all                all                reject',
                   'hostssl all             all                all                md5']
    if callback:
        callbacks = {'on_start': callback, 'on_stop': callback,
                     'on_role_change': '/scripts/on_role_change.sh {0} {1}'.format(p['HUMAN_ROLE'], callback)}
    else:
        callbacks = {'on_role_change': '/scripts/on_role_change.sh {0} true'.format(p['HUMAN_ROLE'])}
    config = {
        'bootstrap': {
            'post_init': '/scripts/post_init.sh "{0}"'.format(p['HUMAN_ROLE']),
            'dcs': {
                'ttl': 30,
                'loop_wait': 10,
                'retry_timeout': 10,
                'maximum_lag_on_failover': 33554432,
                'postgresql': {
                    'use_pg_rewind': True,
                    'use_slots': True,
                    'parameters': {
                        'archive_mode': 'on',
                        'archive_timeout': '1800s',
                        'wal_level': 'hot_standby',
                        'wal_log_hints': 'on',
                        'wal_compression': 'on',
                        'max_wal_senders': 10,
                        'max_connections': max_connections,
                        'max_replication_slots': 10,
                        'hot_standby': 'on',
                        'tcp_keepalives_idle': 900,
                        'tcp_keepalives_interval': 100,
                        'log_line_prefix': '%t [%p]: [%l-1] %c %x %d %u %a %h ',
                        'log_checkpoints': 'on',
                        'log_lock_waits': 'on',
                        'log_min_duration_statement': 500,
                        'log_autovacuum_min_duration': 0,
                        'log_connections': 'on',
                        'log_disconnections': 'on',
                        'log_statement': 'ddl',
                        'log_temp_files': 0,
                        'track_functions': 'all',
                        'checkpoint_completion_target': 0.9,
                        'autovacuum_max_workers': 5,
                        'autovacuum_vacuum_scale_factor': 0.05,
                        'autovacuum_analyze_scale_factor': 0.02,
                    },
                },
            },
            'initdb': [{'encoding': 'UTF8'}, {'locale': p['INITDB_LOCALE'] + '.UTF-8'}, 'data-checksums'],
        },
        'scope': p['SCOPE'],
        'restapi': restapi,
        'postgresql': {
            'pgpass': '/run/postgresql/pgpass',
            'use_unix_socket': True,
            'use_unix_socket_repl': True,
            'name': name,
            'listen': '*:' + p['PGPORT'],
            'connect_address': p['PG_CONNECT_ADDRESS'] if 'PG_CONNECT_ADDRESS' in p else format_url(ip, p['PGPORT']),
            'data_dir': p['PGDATA'],
            'parameters': parameters,
            'pg_hba': pg_hba,
            'authentication': {
                'superuser': {'username': p['PGUSER_SUPERUSER'], 'password': p['PGPASSWORD_SUPERUSER']},
                'replication': {'username': standby, 'password': p['PGPASSWORD_STANDBY']},
            },
            'callbacks': callbacks,
            'create_replica_method': ['basebackup_fast_xlog'],
            'basebackup_fast_xlog': {'command': '/scripts/basebackup.sh', 'retries': 2},
        },
    }
    if p['USE_ADMIN']:
        # Patroni 4 ignores bootstrap.users (it logs that user creation is not supported), as in Spilo
        config['bootstrap']['users'] = {p['PGUSER_ADMIN']: {'password': p['PGPASSWORD_ADMIN'], 'options': ['createrole', 'createdb']}}
    return config


def get_dcs_config(p, use_kubernetes, ip):
    """<DCS>_<PARAM> variables -> the DCS section(s), as Spilo's get_dcs_config."""
    dcs_configs = {}
    for name, value in p.items():
        if '_' not in name or not isinstance(value, str):
            continue
        dcs, param = name.lower().split('_', 1)
        if dcs not in PATRONI_DCS:
            continue
        if param == 'hosts':
            if not (value.strip().startswith('-') or '[' in value):
                value = '[{0}]'.format(value)
            value = yaml.safe_load(value)
        elif param == 'discovery_domain':
            param = 'discovery_srv'
        dcs_configs.setdefault(dcs, {})[param] = value

    if use_kubernetes and p.get('DCS_ENABLE_KUBERNETES_API'):
        config = {'kubernetes': dcs_configs.get('kubernetes', {})}
        for param, default in (('labels', KUBERNETES_DEFAULT_LABELS), ('bootstrap_labels', '{}')):
            try:
                labels = json.loads(config['kubernetes'].get(param))
            except (TypeError, ValueError) as e:
                say('could not parse kubernetes {0} as JSON: {1!r}, using the default {2}'.format(param, e, default))
                labels = json.loads(default)
            config['kubernetes'][param] = labels
        if not config['kubernetes'].pop('use_configmaps', None):
            config['kubernetes'].update({'use_endpoints': True, 'pod_ip': ip, 'ports': [{'port': 5432, 'name': 'postgresql'}]})
        if str(config['kubernetes'].pop('bypass_api_service', None)).lower() == 'true':
            config['kubernetes']['bypass_api_service'] = True
    else:
        config = {}
        for dcs in PATRONI_DCS:
            if dcs != 'kubernetes' and dcs in dcs_configs:
                config = {dcs: dcs_configs[dcs]}
                break
    if p['NAMESPACE'] not in ('default', ''):
        config['namespace'] = p['NAMESPACE']
    return config


def bin_dir_of(version):
    return '{0}/{1}/bin'.format(LIB_DIR, version)


def is_valid_pg_version(version):
    postgres = os.path.join(bin_dir_of(version), 'postgres')
    return bool(version) and os.path.isfile(postgres) and os.access(postgres, os.X_OK)


def binary_version(bin_dir):
    out = subprocess.check_output([os.path.join(bin_dir or '', 'postgres'), '--version']).decode()
    m = re.match(r'^[^\s]+ [^\s]+ (\d+)(\.(\d+))?', out)
    return '.'.join([m.group(1), m.group(3)]) if int(m.group(1)) < 10 else m.group(1)


def append_extensions(old, version, extwlist=False):
    """Spilo's spilo_commons.append_extensions: its extra extensions for this PostgreSQL version."""
    column = 3 if extwlist else 2
    out = []

    def maybe_append(name):
        value = EXTENSIONS.get(name)
        if name not in out and (value is None or value[0] <= version <= value[1] and value[column]):
            out.append(name)

    for name in old.split(','):
        maybe_append(name.strip())
    for name in EXTENSIONS:
        maybe_append(name)
    return ','.join(out)


def locale_available(locale):
    try:
        out = subprocess.run(['locale', '-a'], capture_output=True, text=True).stdout.split()
    except OSError:
        return False
    norm = locale.lower().replace('-', '')
    return any(line.lower().replace('-', '') == norm for line in out)


def adapt_to_image(config):
    """What only exists in the real Spilo image, changed so Debian 13's PostgreSQL and Patroni run it."""
    pg = config['postgresql']
    params = pg.setdefault('parameters', {})
    pkglib = '{0}/{1}/lib'.format(LIB_DIR, os.path.basename(os.path.dirname(pg['bin_dir'])))
    libs = [x.strip() for x in str(params.get('shared_preload_libraries') or '').split(',') if x.strip()]
    keep = [x for x in libs if os.path.exists(os.path.join(pkglib, x + '.so'))]
    dropped = [x for x in libs if x not in keep]
    if dropped:
        stand_in('shared_preload_libraries {0} -> {1} (not packaged in Debian 13: {2})'.format(
            ','.join(libs), ','.join(keep), ','.join(dropped)))
        params['shared_preload_libraries'] = ','.join(keep)
        prefixes = tuple(('extwlist' if x == 'pgextwlist' else x) + '.' for x in dropped)
        for key in sorted(params):
            if key.startswith(prefixes):
                stand_in('parameter {0} dropped with its library'.format(key))
                del params[key]
    bootstrap = config.get('bootstrap', {})
    if bootstrap.get('post_init'):
        stand_in('bootstrap.post_init {0} dropped (Spilo\'s script: roles admin/robot_zmon/cron_admin, '
                 'pg_cron, metric helpers; not in this image)'.format(bootstrap['post_init']))
        del bootstrap['post_init']
    methods = pg.get('create_replica_method')
    if isinstance(methods, list) and 'basebackup_fast_xlog' in methods:
        new = ['basebackup' if m == 'basebackup_fast_xlog' else m for m in methods]
        stand_in('create_replica_method {0} -> {1} (Spilo\'s /scripts/basebackup.sh -> Patroni\'s built-in '
                 'pg_basebackup)'.format(methods, new))
        pg['create_replica_method'] = new
        pg.pop('basebackup_fast_xlog', None)
    for item in bootstrap.get('initdb') or []:
        if isinstance(item, dict) and 'locale' in item and not locale_available(item['locale']):
            stand_in('bootstrap.initdb locale {0} -> C.UTF-8 (not generated in this image)'.format(item['locale']))
            item['locale'] = 'C.UTF-8'


def build(env, pgdata_version_file=True, adapt=True):
    """The Patroni configuration for this environment, and the placeholders."""
    p, use_kubernetes = get_placeholders(env)
    for key in NOT_EMULATED:
        if p.get(key):
            stand_in('{0} is set: Spilo\'s feature behind it is not emulated here (ignored)'.format(key))
    if p['PGPASSWORD_SUPERUSER'] == 'zalando':
        say('WARNING: PGPASSWORD_SUPERUSER not set: Spilo\'s default password "zalando" is used')
    if p['PGPASSWORD_STANDBY'] == 'standby':
        say('WARNING: PGPASSWORD_STANDBY not set: Spilo\'s default password "standby" is used')
    if os.environ.get('SPILO_PROVIDER', 'local') != 'local':
        stand_in('SPILO_PROVIDER={0}: only the local provider is emulated'.format(os.environ['SPILO_PROVIDER']))
    hostname = socket.gethostname()
    ip = None
    if use_kubernetes:
        ip = p.get('POD_IP')
    if not ip:
        try:
            ip = socket.getaddrinfo(hostname, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0)[0][4][0]
        except socket.gaierror:
            ip = '127.0.0.1'
    config = generated_config(p, use_kubernetes, memory_mb(), ip, hostname)
    config.update(get_dcs_config(p, use_kubernetes, ip))

    raw = env.get('SPILO_CONFIGURATION', env.get('PATRONI_CONFIGURATION', ''))
    user_config = yaml.safe_load(raw) or {}
    if not isinstance(user_config, dict):
        name = 'SPILO_CONFIGURATION' if 'SPILO_CONFIGURATION' in env else 'PATRONI_CONFIGURATION'
        raise ValueError('{0} should contain a dict, yet it is a {1}'.format(name, type(user_config)))
    config = deep_update(copy.deepcopy(user_config), config)

    if not any(key in config for key in PATRONI_DCS):
        # Spilo (provider local) would start an embedded etcd on 127.0.0.1 in each pod: a split brain
        # waiting to happen, and this image has no etcd
        raise SystemExit('configure_spilo: no DCS configured (no ETCD3_*/ETCD_*/... variable and none in '
                         'SPILO_CONFIGURATION): Spilo would start an embedded etcd in this pod (SPLIT-BRAIN TRAP); '
                         'this stand-in refuses')

    pg = config['postgresql']
    version_file = os.path.join(pg['data_dir'], 'PG_VERSION')
    if pgdata_version_file and os.path.exists(version_file):
        with open(version_file) as f:
            version = f.read().strip()
        if is_valid_pg_version(version):
            pg['bin_dir'] = bin_dir_of(version)
    if not pg.get('bin_dir'):
        version = env.get('PGVERSION', '')
        if not is_valid_pg_version(version):
            if version:
                stand_in('PGVERSION={0}: no such PostgreSQL here, using the one on PATH'.format(version))
            version = binary_version('')
        pg['bin_dir'] = bin_dir_of(version)
    version = float(binary_version(pg['bin_dir']))
    user_params = (user_config.get('postgresql') or {}).get('parameters') or {}
    if 'shared_preload_libraries' not in user_params:
        pg['parameters']['shared_preload_libraries'] = append_extensions(pg['parameters']['shared_preload_libraries'], version)
    if 'extwlist.extensions' not in user_params:
        pg['parameters']['extwlist.extensions'] = append_extensions(pg['parameters']['extwlist.extensions'], version, True)
    # Ensure replication is available
    hba = config['bootstrap'].get('pg_hba')
    if isinstance(hba, list) and not any('replication' in line for line in hba):
        hba.insert(0, 'hostssl replication {0} all md5'.format(pg['authentication']['replication']['username']))
    if adapt:
        adapt_to_image(config)
    return config, p


def write_file(content, filename, mode=None):
    if os.path.exists(filename):
        say('{0} exists, not overwriting'.format(filename))
        return
    with open(filename, 'w') as f:
        f.write(content)
    if mode is not None:
        os.chmod(filename, mode)


def write_certificates(p):
    """Spilo's write_certificates and write_restapi_certificates."""
    if {'SSL_CERTIFICATE', 'SSL_PRIVATE_KEY'} <= set(p):
        say('writing the server certificate from SSL_CERTIFICATE/SSL_PRIVATE_KEY')
        write_file(p['SSL_CERTIFICATE'], p['SSL_CERTIFICATE_FILE'])
        write_file(p['SSL_PRIVATE_KEY'], p['SSL_PRIVATE_KEY_FILE'], 0o600)
        if 'SSL_CA' in p:
            write_file(p['SSL_CA'], p['SSL_CA_FILE'])
        if 'SSL_CRL' in p:
            write_file(p['SSL_CRL'], p['SSL_CRL_FILE'])
    elif os.path.exists(p['SSL_PRIVATE_KEY_FILE']):
        say('private key {0} exists, not overwriting'.format(p['SSL_PRIVATE_KEY_FILE']))
        return
    else:
        say('generating a self-signed server certificate (CN=spilo.example.org)')
        subprocess.run(['openssl', 'req', '-nodes', '-new', '-x509', '-subj', '/CN=spilo.example.org',
                        '-keyout', p['SSL_PRIVATE_KEY_FILE'], '-out', p['SSL_CERTIFICATE_FILE']],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    os.chmod(p['SSL_PRIVATE_KEY_FILE'], 0o600)
    if {'SSL_RESTAPI_CERTIFICATE', 'SSL_RESTAPI_PRIVATE_KEY'} <= set(p):
        say('writing the REST API certificate from SSL_RESTAPI_CERTIFICATE/SSL_RESTAPI_PRIVATE_KEY')
        write_file(p['SSL_RESTAPI_CERTIFICATE'], p['SSL_RESTAPI_CERTIFICATE_FILE'])
        write_file(p['SSL_RESTAPI_PRIVATE_KEY'], p['SSL_RESTAPI_PRIVATE_KEY_FILE'], 0o600)
        if p.get('SSL_RESTAPI_CA'):
            write_file(p['SSL_RESTAPI_CA'], p['SSL_RESTAPI_CA_FILE'])


def mask(config):
    """The configuration with every password replaced, for printing."""
    if isinstance(config, dict):
        return {k: ('***' if k == 'password' and v else mask(v)) for k, v in config.items()}
    if isinstance(config, list):
        return [mask(v) for v in config]
    return config


def main():
    args = sys.argv[1:]
    printing = '--print' in args
    if not set(args) <= {'--print', '--json', '--as-spilo'} or (args and not printing):
        sys.exit('usage: configure_spilo.py [--print [--json] [--as-spilo]]')
    config, p = build(dict(os.environ), adapt='--as-spilo' not in args)
    text = yaml.dump(config, default_flow_style=False, width=120)
    if printing:
        sys.stdout.write(json.dumps(config, indent=1, sort_keys=True) + '\n' if '--json' in args else text)
        return
    say('scope {0}, member {1}, DCS {2}, bin_dir {3}'.format(
        config.get('scope'), config['postgresql'].get('name'),
        ','.join(k for k in PATRONI_DCS if k in config), config['postgresql']['bin_dir']))
    say('bootstrap.dcs = ' + json.dumps(mask(config['bootstrap'].get('dcs', {})), sort_keys=True))
    write_certificates(p)
    conf_file = os.path.join(p['RW_DIR'], 'postgres.yml')
    old_umask = os.umask(0o077)
    try:
        with open(conf_file + '.new', 'w') as f:
            f.write(text)
        os.replace(conf_file + '.new', conf_file)
    finally:
        os.umask(old_umask)
    say('wrote ' + conf_file)
    socket_dir = '/run/postgresql'
    if not os.path.exists(socket_dir):
        os.makedirs(socket_dir)
        os.chmod(socket_dir, 0o2775)


if __name__ == '__main__':
    main()
