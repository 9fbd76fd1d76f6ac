"""Grow the cluster's volumes to their declared size, then move every PostgreSQL pod onto the
StatefulSet's current pod template with one switchover.

Runs in the rollout Job (pg-ha-cdk8s, lib/components/postgres/postgres-rollout.ts): an Argo CD
PostSync hook whose name carries a hash of the pod template and of the declared sizes, so every
such change runs it once, under plain `kubectl apply` too. The Postgres StatefulSet uses
`updateStrategy: OnDelete`: nothing but this Job (or an operator) replaces its pods.

1. Volumes (VOLUMES): every claim of each StatefulSet is PATCHed up to its declared size. A size
   smaller than a claim is refused before anything changes (volumes cannot shrink).
2. Pods whose `controller-revision-hash` differs from the StatefulSet's `status.updateRevision` are
   outdated. Health gate first (every member streaming within the lag bound, a synchronous standby
   when synchronous mode is on); then the outdated replicas one at a time through the Eviction API
   (honouring the PodDisruptionBudget), each waited for until it streams again on the new
   revision; then a switchover to an updated synchronous standby, and the old primary last.
   ROLLOUT_PRIMARY=manual stops before the switchover and prints the command that finishes it.

A failed step stops the run; everything it did is safe to keep, and a re-run carries on from the
cluster's state (pods already on the new revision are left alone).

Environment: POD_NAMESPACE, STATEFULSET, PATRONI_PORT, ROLLOUT_PRIMARY (auto|manual),
MAXIMUM_LAG_BYTES, SYNCHRONOUS_MODE (true|false), VOLUMES (JSON list of {statefulSet, claim, size,
setting}), STEP_TIMEOUT_SECONDS; REST_API_USERNAME and REST_API_PASSWORD for Patroni's unsafe
endpoints (the switchover); POD_NAME, LEASE_NAME and LEASE_DURATION_SECONDS for the Lease that
keeps it and the converge Job apart (kube_lease.py: the whole run holds it). Patroni is reached at
each pod's address, through patroni_client.py.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from patroni_client import Patroni, PatroniError, log  # noqa: E402 (sibling files of the same ConfigMap)
from kube_lease import Day2Lease, LeaseError, kube  # noqa: E402

LEADER_ROLES = ('leader', 'master', 'primary')
UNITS = {'': 1, 'k': 10**3, 'M': 10**6, 'G': 10**9, 'T': 10**12, 'P': 10**15, 'E': 10**18,
         'Ki': 2**10, 'Mi': 2**20, 'Gi': 2**30, 'Ti': 2**40, 'Pi': 2**50, 'Ei': 2**60}


class Stop(Exception):
    """A reason to stop the run, printed as is."""


def patroni(pods):
    """A client of Patroni's REST API on every pod that has an address (the pods' IPs, as the API lists them)."""
    port = os.environ.get('PATRONI_PORT', '8008')
    urls = [f'http://{p["status"]["podIP"]}:{port}' for p in pods.values() if p.get('status', {}).get('podIP')]
    return Patroni(urls, os.environ.get('REST_API_USERNAME', ''), os.environ.get('REST_API_PASSWORD', ''))


def quantity_bytes(value):
    match = re.fullmatch(r'([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-zA-Z]*)', str(value))
    if not match or match.group(2) not in UNITS:
        raise Stop(f'cannot read the storage quantity {value!r}')
    return float(match.group(1)) * UNITS[match.group(2)]


def wait_for(what, check, timeout):
    """Polls `check` (a list of problems, empty when done) until it is empty; stops with the last problems after `timeout` s."""
    deadline = time.monotonic() + timeout
    problems = check()
    while problems:
        if time.monotonic() > deadline:
            raise Stop(f'gave up after {timeout} s waiting for {what}: ' + '; '.join(problems))
        time.sleep(2)
        problems = check()


# ---- volumes -----------------------------------------------------------------------------------

def grow_volumes(namespace, volumes):
    """Plans every claim first (refusing any shrink before a change), then PATCHes the ones to grow."""
    grow, refused = [], []
    for volume in volumes:
        sts_name, want = volume['statefulSet'], volume['size']
        status, sts = kube('GET', f'/apis/apps/v1/namespaces/{namespace}/statefulsets/{sts_name}')
        if status != 200:
            raise Stop(f'reading StatefulSet {namespace}/{sts_name} answered HTTP {status}: {sts.get("message")}')
        for ordinal in range(sts['spec'].get('replicas', 1)):
            name = f'{volume["claim"]}-{sts_name}-{ordinal}'
            status, claim = kube('GET', f'/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}')
            if status == 404:
                log(f'{name}: does not exist yet; the StatefulSet creates it from its template, the next run grows it')
                continue
            if status != 200:
                raise Stop(f'reading PersistentVolumeClaim {name} answered HTTP {status}: {claim.get("message")}')
            have = claim['spec']['resources']['requests']['storage']
            if quantity_bytes(want) < quantity_bytes(have):
                refused.append(f'{volume["setting"]}={want} is smaller than the volume {name} ({have}): volumes cannot shrink; '
                               f'set {volume["setting"]} to {have} or more')
            elif quantity_bytes(want) > quantity_bytes(have):
                grow.append((name, have, want, claim['spec'].get('storageClassName') or '(the default StorageClass)'))
    if refused:
        raise Stop('\n'.join(refused))
    for name, have, want, storage_class in grow:
        status, body = kube('PATCH', f'/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}',
                            {'spec': {'resources': {'requests': {'storage': want}}}}, 'application/merge-patch+json')
        if status != 200:
            raise Stop(f'growing {name} from {have} to {want} was refused (HTTP {status}): {body.get("message")}. '
                       f'Its StorageClass {storage_class} must have allowVolumeExpansion: true (see docs/day-2.md, "Growing volumes")')
        log(f'{name}: storage request {have} -> {want}; the volume grows online where its CSI driver supports it')


# ---- pods and Patroni --------------------------------------------------------------------------

class Cluster:
    def __init__(self, namespace, sts_name, max_lag, synchronous, step_timeout):
        self.namespace, self.sts_name = namespace, sts_name
        self.max_lag, self.synchronous, self.step_timeout = max_lag, synchronous, step_timeout

    def statefulset(self):
        status, sts = kube('GET', f'/apis/apps/v1/namespaces/{self.namespace}/statefulsets/{self.sts_name}')
        if status != 200:
            raise Stop(f'reading StatefulSet {self.namespace}/{self.sts_name} answered HTTP {status}: {sts.get("message")}')
        return sts

    def pods(self, sts):
        selector = ','.join(f'{k}={v}' for k, v in sts['spec']['selector']['matchLabels'].items())
        status, body = kube('GET', f'/api/v1/namespaces/{self.namespace}/pods?labelSelector={selector}')
        if status != 200:
            raise Stop(f'listing the pods of {self.sts_name} answered HTTP {status}: {body.get("message")}')
        return {p['metadata']['name']: p for p in body['items']}

    def members(self, pods):
        """Patroni's view of the cluster (GET /cluster) from the first member that answers; empty when none does."""
        try:
            return {m['name']: m for m in patroni(pods).cluster().get('members', [])}
        except PatroniError:
            return {}

    def health(self, replicas, pods, members):
        """Problems that stop a pod from being replaced now; empty when the cluster is healthy."""
        problems = []
        leaders = [m for m in members.values() if m.get('role') in LEADER_ROLES]
        if len(leaders) != 1:
            problems.append(f'{len(leaders)} leaders in Patroni\'s view (one expected)')
        for ordinal in range(replicas):
            name = f'{self.sts_name}-{ordinal}'
            member, pod = members.get(name), pods.get(name)
            ready = pod and any(c['type'] == 'Ready' and c['status'] == 'True' for c in pod.get('status', {}).get('conditions', []))
            if not ready:
                problems.append(f'pod {name} is not Ready')
            if member is None:
                problems.append(f'{name} is not a Patroni member')
            elif member.get('role') in LEADER_ROLES:
                if member.get('state') != 'running':
                    problems.append(f'leader {name} is {member.get("state")}')
            elif member.get('state') != 'streaming':
                problems.append(f'{name} is {member.get("state")}, not streaming')
            elif not isinstance(member.get('lag'), int) or member['lag'] > self.max_lag:
                problems.append(f'{name} lags {member.get("lag")} bytes (bound {self.max_lag})')
        if self.synchronous and not any(m.get('role') == 'sync_standby' for m in members.values()):
            problems.append('no synchronous standby')
        return problems

    def snapshot(self):
        sts = self.statefulset()
        pods = self.pods(sts)
        return sts, pods, self.members(pods)

    def wait_healthy(self, what):
        def check():
            sts, pods, members = self.snapshot()
            return self.health(sts['spec'].get('replicas', 1), pods, members)
        wait_for(what, check, self.step_timeout)

    def evict(self, name):
        path = f'/api/v1/namespaces/{self.namespace}/pods/{name}/eviction'
        body = {'apiVersion': 'policy/v1', 'kind': 'Eviction', 'metadata': {'name': name, 'namespace': self.namespace}}
        deadline = time.monotonic() + self.step_timeout
        while True:
            status, answer = kube('POST', path, body)
            if status in (200, 201, 404):
                return
            if status != 429 or time.monotonic() > deadline:
                raise Stop(f'evicting {name} answered HTTP {status}: {answer.get("message")}')
            log(f'evicting {name}: {answer.get("message")}; retrying')
            time.sleep(5)

    def replace(self, name, revision):
        """Evicts pod `name` and waits until it is back on `revision`, Ready, and the cluster is healthy again."""
        _, pods, _ = self.snapshot()
        old_uid = pods[name]['metadata']['uid']
        log(f'{name}: evicting (revision {pods[name]["metadata"]["labels"].get("controller-revision-hash")} -> {revision})')
        self.evict(name)

        def back():
            sts, pods, members = self.snapshot()
            pod = pods.get(name)
            if not pod or pod['metadata']['uid'] == old_uid:
                return [f'pod {name} not recreated yet']
            if pod['metadata']['labels'].get('controller-revision-hash') != revision:
                return [f'pod {name} came back on revision {pod["metadata"]["labels"].get("controller-revision-hash")}, not {revision}']
            return self.health(sts['spec'].get('replicas', 1), pods, members)
        wait_for(f'{name} to stream again on revision {revision}', back, self.step_timeout)
        log(f'{name}: back on {revision}, streaming')


def leader_of(members):
    return next((n for n, m in members.items() if m.get('role') in LEADER_ROLES), None)


def replica_order(outdated, members):
    """Outdated replicas, asynchronous ones first: the synchronous standby keeps its role as long as possible."""
    replicas = [n for n in outdated if members.get(n, {}).get('role') not in LEADER_ROLES]
    return sorted(replicas, key=lambda n: (members.get(n, {}).get('role') == 'sync_standby', n))


def switchover_candidate(members, pods, revision, synchronous):
    """An updated member to hand the leader role to: a synchronous standby in synchronous mode, else the least lagging replica."""
    updated = [n for n, m in members.items() if m.get('role') not in LEADER_ROLES and m.get('state') == 'streaming'
               and pods.get(n, {}).get('metadata', {}).get('labels', {}).get('controller-revision-hash') == revision]
    if synchronous:
        updated = [n for n in updated if members[n].get('role') == 'sync_standby']
    updated.sort(key=lambda n: (members[n].get('lag') if isinstance(members[n].get('lag'), int) else 1 << 62, n))
    return updated[0] if updated else None


def finish_command(namespace, leader, candidate):
    """The one command that finishes a rollout ROLLOUT_PRIMARY=manual stopped: the switchover, then the old primary's new pod."""
    return (f'kubectl -n {namespace} exec {leader} -c postgres -- patronictl switchover --leader {leader} --candidate {candidate} --force'
            f' && kubectl -n {namespace} delete pod {leader}')


def roll(cluster, primary_mode):
    # Under `kubectl apply` this Job may start before the controller saw the new template.
    def observed():
        sts = cluster.statefulset()
        seen, generation = sts.get('status', {}).get('observedGeneration'), sts['metadata'].get('generation')
        return [] if generation is None or (seen or 0) >= generation else [f'observedGeneration {seen} < generation {generation}']
    wait_for(f'the StatefulSet controller to observe {cluster.sts_name}', observed, cluster.step_timeout)
    sts, pods, members = cluster.snapshot()
    revision = sts['status']['updateRevision']
    outdated = sorted(n for n, p in pods.items() if p['metadata']['labels'].get('controller-revision-hash') != revision)
    if not outdated:
        log(f'every pod of {cluster.sts_name} runs revision {revision}; nothing to roll')
        return
    log(f'revision {revision}: outdated pods {", ".join(outdated)}; checking the cluster\'s health first')
    cluster.wait_healthy('a healthy cluster before the rollout')
    _, pods, members = cluster.snapshot()
    leader = leader_of(members)
    for name in replica_order(outdated, members):
        cluster.replace(name, revision)
    if leader not in outdated:
        log(f'every pod runs revision {revision}; the leader {leader} was already on it (no switchover)')
        return
    cluster.wait_healthy('a healthy cluster before the switchover')
    sts, pods, members = cluster.snapshot()
    leader = leader_of(members)
    candidate = switchover_candidate(members, pods, revision, cluster.synchronous)
    if candidate is None:
        raise Stop(f'no updated {"synchronous standby" if cluster.synchronous else "replica"} to switch over to from {leader}')
    if primary_mode == 'manual':
        log(f'ROLLOUT_PRIMARY=manual: every replica runs revision {revision}; the primary {leader} is the last outdated pod. '
            f'To finish (one switchover to {candidate}, then {leader} restarts as a replica), run:\n'
            f'  {finish_command(cluster.namespace, leader, candidate)}')
        return
    log(f'switchover {leader} -> {candidate}')
    try:
        patroni(pods).switchover(leader, candidate)
    except PatroniError as error:
        raise Stop(f'Patroni refused the switchover: {error}') from None

    def switched():
        _, _, now = cluster.snapshot()
        return [] if leader_of(now) == candidate and now[candidate].get('state') == 'running' else [f'leader is {leader_of(now)}']
    wait_for(f'{candidate} to lead', switched, cluster.step_timeout)
    cluster.replace(leader, revision)
    log(f'every pod of {cluster.sts_name} runs revision {revision}; leader {candidate} (one switchover)')


def main():
    namespace = os.environ['POD_NAMESPACE']
    primary_mode = os.environ.get('ROLLOUT_PRIMARY', 'auto')
    if primary_mode not in ('auto', 'manual'):
        raise Stop(f'ROLLOUT_PRIMARY must be auto or manual (got {primary_mode!r})')
    cluster = Cluster(namespace, os.environ['STATEFULSET'], int(os.environ.get('MAXIMUM_LAG_BYTES', '1048576')),
                      os.environ.get('SYNCHRONOUS_MODE', 'true') == 'true', int(os.environ.get('STEP_TIMEOUT_SECONDS', '600')))
    # The converge Job restarts members and switches over too: never at the same time (kube_lease.py).
    with Day2Lease.from_env():
        grow_volumes(namespace, json.loads(os.environ.get('VOLUMES', '[]')))
        roll(cluster, primary_mode)


if __name__ == '__main__':
    try:
        main()
    except (Stop, LeaseError) as stop:
        log(f'rollout stopped: {stop}')
        sys.exit(1)
