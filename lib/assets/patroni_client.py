"""A small client of Patroni's REST API for the chart's Jobs (pg-ha-cdk8s).

Stdlib only (the Spilo image's python3). Reads are never authenticated by Patroni; unsafe calls
(PATCH /config, POST /restart, /switchover) send HTTP basic auth with the `patroni` user.
Sibling Jobs import it: `sys.path.insert(0, '/scripts'); from patroni_client import Patroni`.

Environment read by `Patroni.from_env()`: PATRONI_URLS (comma list of member REST URLs, any order),
REST_API_USERNAME, REST_API_PASSWORD.
"""
import base64
import json
import os
import time
import urllib.error
import urllib.request

RUNNING = ('running', 'streaming')


class PatroniError(Exception):
    """A call Patroni refused or that did not answer; the message says which and why."""


def log(message):
    print(time.strftime('%H:%M:%S'), message, flush=True)


class Patroni:
    def __init__(self, urls, username, password, timeout=5):
        self.urls = [u.rstrip('/') for u in urls if u]
        token = base64.b64encode(f'{username}:{password}'.encode()).decode()
        self.auth = {'Authorization': f'Basic {token}'}
        self.timeout = timeout

    @classmethod
    def from_env(cls):
        return cls(os.environ['PATRONI_URLS'].split(','), os.environ['REST_API_USERNAME'], os.environ['REST_API_PASSWORD'])

    def call(self, url, method='GET', path='/', body=None):
        """(status, parsed JSON or text) of one request; unsafe methods carry the credentials."""
        headers = {'Content-Type': 'application/json'}
        if method not in ('GET', 'OPTIONS'):
            headers.update(self.auth)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, decode(response.read())
        except urllib.error.HTTPError as error:
            return error.code, decode(error.read())
        except (urllib.error.URLError, OSError) as error:
            raise PatroniError(f'{method} {url}{path}: {getattr(error, "reason", error)}') from None

    def any_member(self, method, path, body=None):
        """The first member that answers; raises when none does."""
        errors = []
        for url in self.urls:
            try:
                return self.call(url, method, path, body)
            except PatroniError as error:
                errors.append(str(error))
        raise PatroniError('no member answered: ' + '; '.join(errors))

    def cluster(self):
        """GET /cluster: {'members': [{name, role, state, api_url, host, port, lag, ...}], ...}."""
        status, body = self.any_member('GET', '/cluster')
        if status != 200:
            raise PatroniError(f'GET /cluster answered {status}: {body}')
        return body

    def config(self):
        status, body = self.any_member('GET', '/config')
        if status != 200:
            raise PatroniError(f'GET /config answered {status}: {body}')
        return body

    def patch_config(self, patch):
        status, body = self.any_member('PATCH', '/config', patch)
        if status != 200:
            raise PatroniError(f'PATCH /config answered {status}: {body}')
        return body

    def member_status(self, member):
        """GET /patroni of one member (state, role, pending_restart, ...)."""
        status, body = self.call(member['api_url'], 'GET', '/patroni')
        if status not in (200, 503):
            raise PatroniError(f'GET {member["api_url"]}/patroni answered {status}: {body}')
        return body

    def restart_pending(self, member):
        """Restarts one member's PostgreSQL if (and only if) it is pending a restart."""
        status, body = self.call(member['api_url'], 'POST', '/restart', {'restart_pending': True})
        if status not in (200, 202):
            raise PatroniError(f'POST {member["api_url"]}/restart answered {status}: {body}')

    def switchover(self, leader, candidate):
        status, body = self.any_member('POST', '/switchover', {'leader': leader, 'candidate': candidate})
        if status not in (200, 202):
            raise PatroniError(f'POST /switchover {leader} -> {candidate} answered {status}: {body}')
        return body

    # --- views of /cluster ---

    @staticmethod
    def leader(cluster):
        return next((m for m in cluster['members'] if m['role'] in ('leader', 'master', 'primary')), None)

    @staticmethod
    def replicas(cluster):
        return [m for m in cluster['members'] if m['role'] not in ('leader', 'master', 'primary')]

    def check_healthy(self, expected_members=None):
        """The cluster, if it has a leader and every member runs; otherwise PatroniError saying what is not."""
        cluster = self.cluster()
        members = cluster['members']
        problems = [f'{m["name"]} is {m.get("state")}' for m in members if m.get('state') not in RUNNING]
        if self.leader(cluster) is None:
            problems.append('there is no leader')
        if expected_members is not None and len(members) < expected_members:
            problems.append(f'{len(members)} of {expected_members} members are registered')
        if problems:
            raise PatroniError('the cluster is not healthy: ' + ', '.join(problems))
        return cluster

    def wait(self, what, condition, timeout, interval=1.0):
        """Polls condition() (a truthy result ends the wait) until timeout seconds have passed."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                result = condition()
                if result:
                    return result
            except PatroniError as error:
                last_error = error
            time.sleep(interval)
        raise PatroniError(f'timed out after {timeout}s waiting for {what}' + (f' (last error: {last_error})' if last_error else ''))

    def wait_member_running(self, name, timeout):
        """Until `name` runs (streaming, for a replica) and has no restart pending."""
        def ready():
            cluster = self.cluster()
            member = next((m for m in cluster['members'] if m['name'] == name), None)
            if not member or member.get('state') not in RUNNING:
                return None
            return member if not self.member_status(member).get('pending_restart') else None
        return self.wait(f'{name} to run again without a pending restart', ready, timeout)

    def switchover_and_wait(self, leader, candidate, timeout):
        """Switches over to `candidate`; returns once it leads and the old leader runs again as a replica."""
        log(f'switchover {leader} -> {candidate}')
        self.switchover(leader, candidate)

        def done():
            cluster = self.cluster()
            now = self.leader(cluster)
            old = next((m for m in cluster['members'] if m['name'] == leader), None)
            return now and now['name'] == candidate and old and old.get('state') in RUNNING
        self.wait(f'{candidate} to lead and {leader} to run as a replica', done, timeout)


def decode(raw):
    text = raw.decode(errors='replace')
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()
