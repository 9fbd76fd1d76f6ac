"""Make the running cluster equal to what Git declares (pg-ha-cdk8s converge Job).

1. Checks every declared PostgreSQL parameter with the real server binary (`postgres -C`): an
   invalid value stops here with PostgreSQL's own message, before anything is changed.
2. Checks the cluster is healthy (a leader, every member running); otherwise changes nothing.
3. PATCHes Patroni's dynamic configuration with what differs (a parameter removed from Git is
   PATCHed to null), then restarts the members with a pending restart: replicas one at a time,
   then the primary through a switchover to a replica. Lowering one of the parameters that must
   match on every member (max_connections, ...) is a second step, primary first (a replica may not
   run with less than its primary): the primary restarts in place, then the replicas.
4. Checks on every member (pg_settings) that each declared value took effect; fails naming the
   member, the parameter and PostgreSQL's message otherwise.

Any failure stops the run at once (no further change); a new run starts from what it finds, so
re-running is safe. Environment: DESIRED_CONFIG (path of the dynamic configuration as JSON),
PGBIN (PostgreSQL's bin directory), PGUSER/PGPASSWORD/PGSSLMODE (psql to each member), the
variables of patroni_client.Patroni.from_env(), and those of kube_lease.Day2Lease.from_env(): from
step 2 to the end the run holds the Lease that keeps it and the rollout Job apart.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from patroni_client import Patroni, PatroniError, log  # noqa: E402
from kube_lease import Day2Lease, LeaseError  # noqa: E402

MARKER = 'pg_ha_declared_parameters'
MUST_MATCH = ('max_connections', 'max_locks_per_transaction', 'max_prepared_transactions', 'max_wal_senders', 'max_worker_processes')


HEALTHY_TIMEOUT = int(os.environ.get('HEALTHY_TIMEOUT', '600'))


# The exit status of a refusal no retry can fix (REFUSED_EXIT_CODE in lib/k8s/workload.ts).
REFUSED = 3


class ConvergeError(Exception):
    pass


def healthy(patroni):
    def check():
        try:
            return patroni.check_healthy()
        except PatroniError as error:
            log(f'waiting: {error}')
            raise
    return check


# --- PostgreSQL's own checks ---

def postgres_value(pgbin, workdir, name, value=None):
    """The value the server would run with (`postgres -C`), as pg_settings.setting shows it; PostgreSQL's message if invalid."""
    args = [f'{pgbin}/postgres', '-D', workdir, '-C', name]
    if value is not None:
        args[1:1] = ['-c', f'{name}={value}']
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        messages = [line.split(':  ', 1)[-1] for line in result.stderr.splitlines() if 'FATAL' in line or 'HINT' in line]
        raise ConvergeError(f'{name}={value}: ' + (' '.join(messages) or result.stderr.strip()))
    return result.stdout.strip()


def expected_settings(pgbin, parameters):
    """name -> expected pg_settings.setting for every declared parameter; stops on the first invalid value."""
    with tempfile.TemporaryDirectory() as workdir:
        for conf in ('postgresql.conf', 'postgresql.auto.conf'):
            open(os.path.join(workdir, conf), 'w').close()
        return {name: postgres_value(pgbin, workdir, name, value) for name, value in parameters.items()}


def same_setting(actual, want):
    """pg_settings.setting against `postgres -C`: equal, or the same file mode (pg_settings shows 0600, -C shows 384)."""
    if actual == want:
        return True
    try:
        return actual is not None and actual.startswith('0') and int(actual, 8) == int(want)
    except ValueError:
        return False


def psql(pgbin, member, sql):
    """Rows (lists of fields) of `sql` run on `member`; ConvergeError with PostgreSQL's message on failure."""
    env = dict(os.environ, PGHOST=member['host'], PGPORT=str(member.get('port', 5432)), PGDATABASE='postgres', PGCONNECT_TIMEOUT='5')
    result = subprocess.run([f'{pgbin}/psql', '-XAtq', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise ConvergeError(f'{member["name"]}: {result.stderr.strip()}')
    return [line.split('\t') for line in result.stdout.splitlines()]


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def member_settings(pgbin, member, names):
    """name -> (setting, pending_restart) on one member."""
    if not names:
        return {}
    rows = psql(pgbin, member, 'SELECT name, setting, pending_restart FROM pg_settings WHERE name IN (%s)' % ','.join(literal(n) for n in names))
    return {name: (setting, pending == 't') for name, setting, pending in rows}


# --- the plan ---

def plan(current, desired, running=None):
    """[(patch, primary_first)]: what differs; decreases of the must-match parameters as a second, primary-first step.

    A must-match parameter is lowered when its declared value is below the one in the DCS or, when the
    DCS has none (Patroni's or Spilo's default runs), below `running` (name -> the primary's setting).
    With raises and decreases in one change (mixed), the raises go first (replicas first, the primary
    last through a switchover), then the decreases (the primary first, in place): a standby may never
    run with less than its primary, and no single order of restarts keeps that for both directions."""
    patch, lowered = {}, {}
    for key, value in desired.items():
        if key not in ('postgresql', MARKER) and current.get(key) != value:
            patch[key] = value
    current_pg = current.get('postgresql') or {}
    for key, value in desired['postgresql'].items():
        if key != 'parameters' and current_pg.get(key) != value:
            patch.setdefault('postgresql', {})[key] = value
    current_params = current_pg.get('parameters') or {}
    params = {}
    for name, value in desired['postgresql']['parameters'].items():
        old = current_params.get(name)
        if old is not None and str(old) == str(value):
            continue
        before = old if old is not None else (running or {}).get(name)
        if name in MUST_MATCH and before is not None and as_int(value) is not None and as_int(before) is not None and as_int(value) < as_int(before):
            lowered[name] = value
        else:
            params[name] = value
    for name in current.get(MARKER) or []:
        if name not in desired['postgresql']['parameters'] and name in current_params:
            params[name] = None  # removed from Git: removed from the DCS
    if params:
        patch.setdefault('postgresql', {})['parameters'] = params
    if current.get(MARKER) != desired[MARKER]:
        patch[MARKER] = desired[MARKER]
    steps = [(patch, False)] if patch else []
    if lowered:
        steps.append(({'postgresql': {'parameters': lowered}}, True))
    return steps


def as_int(value):
    try:
        return int(str(value))
    except ValueError:
        return None


# --- applying ---

def wait_applied(patroni, pgbin, expected, names, timeout):
    """Until every member shows each changed parameter with its new value, or pending a restart."""
    def applied():
        cluster = patroni.cluster()
        for member in cluster['members']:
            settings = member_settings(pgbin, member, names)
            for name in names:
                setting, pending = settings.get(name, (None, False))
                if not same_setting(setting, expected[name]) and not pending:
                    return False
        return cluster
    try:
        return patroni.wait('every member to reload the new configuration', applied, timeout)
    except ConvergeError as error:
        raise PatroniError(str(error)) from None


def wait_replayed(patroni, pgbin, leader, replicas, timeout):
    """Until every replica replayed the primary's WAL up to now: after the primary restarted with a lower
    must-match value, its parameter-change record must reach a replica's control file before that replica
    restarts, or Patroni starts it again with the old (higher) value from pg_controldata."""
    lsn = psql(pgbin, leader, 'SELECT pg_current_wal_lsn()')[0][0]
    for replica in replicas:
        patroni.wait(f'{replica["name"]} to replay the primary\'s WAL up to {lsn}',
                     lambda r=replica: psql(pgbin, r, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")[0][0] == 't', timeout)


def restart_pending(patroni, pgbin, primary_first, timeout):
    """Restarts members with a pending restart, in the safe order; one at a time, each back running before the next."""
    cluster = patroni.check_healthy()
    pending = {m['name'] for m in cluster['members'] if patroni.member_status(m).get('pending_restart')}
    if not pending:
        log('no member needs a restart')
        return 0
    leader = patroni.leader(cluster)
    replicas = [m for m in patroni.replicas(cluster) if m['name'] in pending]
    log(f'pending restart: {", ".join(sorted(pending))} (leader {leader["name"]}; {"primary" if primary_first else "replicas"} first)')
    restarts = 0
    if primary_first and leader['name'] in pending:
        log(f'restart {leader["name"]} (primary, in place)')
        patroni.restart_pending(leader)
        patroni.wait_member_running(leader['name'], timeout)
        restarts += 1
        try:
            wait_replayed(patroni, pgbin, leader, replicas, timeout)
        except ConvergeError as error:
            raise PatroniError(str(error)) from None
    for replica in replicas:
        log(f'restart {replica["name"]} (replica)')
        patroni.restart_pending(replica)
        patroni.wait_member_running(replica['name'], timeout)
        restarts += 1
    if not primary_first and leader['name'] in pending:
        candidate = switchover_candidate(patroni, timeout)
        if candidate is None:
            log(f'restart {leader["name"]} (the only member, in place)')
            patroni.restart_pending(leader)
        else:
            switchover_to_sync_standby(patroni, leader['name'], candidate, timeout)
            old = next(m for m in patroni.cluster()['members'] if m['name'] == leader['name'])
            if patroni.member_status(old).get('pending_restart'):
                log(f'restart {old["name"]} (now a replica)')
                patroni.restart_pending(old)
        patroni.wait_member_running(leader['name'], timeout)
        restarts += 1
    return restarts


def switchover_candidate(patroni, timeout):
    """The replica to hand the primary to: the synchronous standby once one streams again (restarted
    replicas lose the role for a moment), else the first replica; None when the leader is alone."""
    def streaming_sync_standby():
        candidates = patroni.replicas(patroni.check_healthy())
        if not candidates:
            return {'none': True}
        return next((m for m in candidates if m.get('role') == 'sync_standby' and m.get('state') == 'streaming'), None)
    try:
        found = patroni.wait('a streaming synchronous standby', streaming_sync_standby, min(timeout, 60))
    except PatroniError:
        candidates = patroni.replicas(patroni.check_healthy())
        return candidates[0]['name'] if candidates else None
    return None if found.get('none') else found['name']


def switchover_to_sync_standby(patroni, leader, candidate, timeout):
    """Switches over; Patroni answers 412 when the synchronous standby moved in the meantime, so the
    candidate is read again and the call repeated (nothing changed on a 412) until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            patroni.switchover_and_wait(leader, candidate, timeout)
            return
        except PatroniError as error:
            if ' 412' not in str(error) or time.monotonic() > deadline:
                raise
            log(f'{error}; reading the synchronous standby again')
            time.sleep(1)
            candidate = switchover_candidate(patroni, timeout) or candidate


def verify(patroni, pgbin, expected):
    """Every member runs every declared value; otherwise ConvergeError listing what did not take effect and why."""
    failures = []
    for member in patroni.check_healthy()['members']:
        settings = member_settings(pgbin, member, list(expected))
        for name, want in expected.items():
            setting, pending = settings.get(name, (None, False))
            if not same_setting(setting, want):
                why = 'a restart is still pending' if pending else file_error(pgbin, member, name)
                failures.append(f'{member["name"]}: {name} is {setting!r}, declared {want!r} ({why})')
    if failures:
        raise ConvergeError('values that did not take effect:\n  ' + '\n  '.join(failures))


def file_error(pgbin, member, name):
    rows = psql(pgbin, member, f'SELECT error FROM pg_file_settings WHERE name = {literal(name)} AND error IS NOT NULL')
    return 'PostgreSQL: ' + rows[0][0] if rows else 'overridden by the local configuration or Patroni'


def main():
    lease = None
    with open(os.environ['DESIRED_CONFIG']) as f:
        desired = json.load(f)
    pgbin = os.environ.get('PGBIN', '/usr/lib/postgresql/17/bin')
    patroni = Patroni.from_env()
    started = time.monotonic()
    parameters = desired['postgresql']['parameters']
    try:
        expected = expected_settings(pgbin, parameters)
    except ConvergeError as error:
        # A value PostgreSQL refuses: running again cannot help (the Job's podFailurePolicy fails it at once).
        print(f'converge refused, nothing further was changed: {error}', file=sys.stderr, flush=True)
        sys.exit(REFUSED)
    log(f'{len(expected)} declared parameters are valid for {pgbin}/postgres')
    try:
        # The rollout Job restarts members and switches over too: never at the same time (kube_lease.py).
        lease = Day2Lease.from_env()
        lease.acquire()
        # A new cluster (kubectl apply runs this Job at once) may still be starting: wait for it.
        cluster = patroni.wait('a healthy cluster (a leader, every member running)', healthy(patroni), HEALTHY_TIMEOUT, 5)
        log('healthy: ' + ', '.join(f'{m["name"]} {m["role"]}' for m in cluster['members']))
        timeout = 60 + 4 * int(desired.get('ttl', 30))
        running = {n: v for n, (v, _) in member_settings(pgbin, patroni.leader(cluster), [n for n in MUST_MATCH if n in parameters]).items()}
        steps = plan(patroni.config(), desired, running)
        restarts = 0
        for patch, primary_first in steps:
            log('PATCH /config ' + json.dumps(patch, sort_keys=True))
            patroni.patch_config(patch)
            # Each member applies it in its next HA loop (Patroni's loop_wait), reloading or flagging a restart.
            time.sleep(int(patroni.config().get('loop_wait', 10)) + 2)
            changed = [n for n, v in (patch.get('postgresql', {}).get('parameters') or {}).items() if v is not None]
            wait_applied(patroni, pgbin, expected, changed, timeout)
            restarts += restart_pending(patroni, pgbin, primary_first, timeout)
        if not steps:
            log('the dynamic configuration already equals Git')
            restarts += restart_pending(patroni, pgbin, False, timeout)
        verify(patroni, pgbin, expected)
    except (ConvergeError, PatroniError, LeaseError) as error:
        sys.exit(f'converge failed, nothing further was changed: {error}')
    finally:
        if lease is not None:
            lease.release()
    log(f'converged in {time.monotonic() - started:.1f}s: {len(steps)} change step(s), {restarts} restart(s); '
        f'every member runs the {len(expected)} declared parameters')


if __name__ == '__main__':
    main()
