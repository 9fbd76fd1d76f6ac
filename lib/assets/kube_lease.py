"""The Kubernetes API for the chart's day-2 Jobs, and the Lease that keeps them apart (pg-ha-cdk8s).

The converge Job and the rollout Job both restart members and switch over. Argo CD orders them
(hook waves), but `kubectl apply -f dist/` starts both at once, so each holds the Lease
`<scope>-day2` (coordination.k8s.io/v1, declared in dist/) while it acts on the cluster:

- holderIdentity is the Job's pod name; renewTime is renewed every third of leaseDurationSeconds
  by a background thread while the Job works;
- a Job that finds the Lease held waits, and logs who holds it;
- a Lease whose record has not changed for leaseDurationSeconds, as this Job's own clock measures
  it (as client-go's leader election does: no trust in another node's clock), is stale (its holder
  crashed) and is taken over;
- a holder that cannot renew before its lease runs out, or finds another holder, stops at once
  (exit 1: the Job's next attempt starts over, both scripts are safe to re-run);
- the Lease is released (holderIdentity emptied) when the Job ends.

Every write is an update carrying the resourceVersion read before it, so two Jobs racing for the
Lease cannot both win: the API server answers the second with 409 Conflict, and it reads again.

Stdlib only (the Spilo image's python3). Environment: POD_NAMESPACE, POD_NAME, LEASE_NAME,
LEASE_DURATION_SECONDS; the ServiceAccount token in SERVICEACCOUNT_DIR (default the kubelet's).
"""
import datetime
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from patroni_client import log  # noqa: E402 (a sibling file of the same ConfigMap)

from kube_api import kube  # noqa: E402 (a sibling file of the same ConfigMap)


def micro_time(epoch=None):
    """A Lease's MicroTime: RFC 3339 with microseconds, UTC."""
    moment = datetime.datetime.fromtimestamp(time.time() if epoch is None else epoch, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class LeaseError(Exception):
    """The Lease cannot be read or written (RBAC, a missing Lease, the API server down)."""


class Day2Lease:
    """`with Day2Lease.from_env(): ...` runs the block while holding the Lease (see the module's doc)."""

    def __init__(self, namespace, name, identity, duration, api=kube, clock=time.monotonic, sleep=time.sleep, on_lost=None):
        self.path = f'/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}'
        self.name, self.identity, self.duration = name, identity, duration
        self.api, self.clock, self.sleep = api, clock, sleep
        self.on_lost = on_lost or (lambda why: (log(f'lease {self.name}: {why}; stopping now (nothing further is changed)'), os._exit(1)))
        self.held = threading.Event()
        self.stopped = threading.Event()
        self.renewer = None
        self.renewed_at = None
        # The other holder's record as last seen, and when (this Job's clock) it was first seen.
        self.observed, self.observed_at = None, None

    @classmethod
    def from_env(cls):
        return cls(os.environ['POD_NAMESPACE'], os.environ['LEASE_NAME'], os.environ['POD_NAME'], int(os.environ.get('LEASE_DURATION_SECONDS', '30')))

    # --- reading and writing ---

    def read(self):
        status, lease = self.api('GET', self.path)
        if status == 404:
            raise LeaseError(f'Lease {self.name} does not exist: it is part of dist/ (kubectl apply -f dist/ creates it)')
        if status != 200:
            raise LeaseError(f'reading Lease {self.name} answered HTTP {status}: {lease.get("message")}')
        return lease

    def write(self, lease, **spec):
        """PUT with the resourceVersion read: (True, stored) or (False, None) when another writer came first (409)."""
        body = dict(lease, spec=dict(lease.get('spec') or {}, **spec))
        status, stored = self.api('PUT', self.path, body)
        if status == 409:
            return False, None
        if status != 200:
            raise LeaseError(f'updating Lease {self.name} answered HTTP {status}: {stored.get("message")}')
        return True, stored

    # --- acquiring ---

    def holder_of(self, lease):
        return (lease.get('spec') or {}).get('holderIdentity') or None

    def stale(self, lease):
        """True once the holder's record stayed unchanged for its leaseDurationSeconds on this Job's clock."""
        spec = lease.get('spec') or {}
        record = (spec.get('holderIdentity'), spec.get('renewTime'), lease['metadata'].get('resourceVersion'))
        if record != self.observed:
            self.observed, self.observed_at = record, self.clock()
            return False
        return self.clock() - self.observed_at >= int(spec.get('leaseDurationSeconds') or self.duration)

    def try_acquire(self):
        """One attempt: True when this Job now holds the Lease; otherwise who holds it (a string)."""
        lease = self.read()
        holder = self.holder_of(lease)
        spec = lease.get('spec') or {}
        if holder not in (None, self.identity) and not self.stale(lease):
            return holder
        now = micro_time()
        # Like client-go's leader election: a new holder (after a release or a stale holder) counts a transition.
        transitions = int(spec.get('leaseTransitions') or 0) + (0 if holder == self.identity else 1)
        ok, _ = self.write(lease, holderIdentity=self.identity, leaseDurationSeconds=self.duration, acquireTime=now, renewTime=now,
                           leaseTransitions=transitions)
        if not ok:
            return holder or 'another Job (it wrote first)'
        if holder not in (None, self.identity):
            log(f'lease {self.name}: {holder} did not renew it for {spec.get("leaseDurationSeconds")} s (a crashed Job): taking it over')
        return True

    def acquire(self, interval=2.0, report_every=30.0):
        """Waits until this Job holds the Lease (the Job's activeDeadlineSeconds bounds the wait), then renews it in the background."""
        last_holder, reported = None, None
        while True:
            result = self.try_acquire()
            if result is True:
                break
            if result != last_holder or self.clock() - reported >= report_every:
                log(f'lease {self.name}: held by {result}; waiting for it (another day-2 Job is restarting or replacing members)')
                last_holder, reported = result, self.clock()
            self.sleep(interval)
        self.renewed_at = self.clock()
        self.held.set()
        log(f'lease {self.name}: acquired by {self.identity} at {micro_time()}')
        self.renewer = threading.Thread(target=self.keep_renewing, name='lease-renewer', daemon=True)
        self.renewer.start()

    # --- holding ---

    def renew_once(self):
        """'renewed', 'failed' (an API error or a conflict: try again soon) or 'lost' (another Job holds it)."""
        try:
            lease = self.read()
            holder = self.holder_of(lease)
            if holder != self.identity:
                self.held.clear()
                self.on_lost(f'the lease is now held by {holder}')
                return 'lost'
            ok, _ = self.write(lease, renewTime=micro_time())
        except LeaseError as error:
            log(f'lease {self.name}: renewing failed: {error}')
            return 'failed'
        if not ok:
            return 'failed'
        self.renewed_at = self.clock()
        return 'renewed'

    def keep_renewing(self):
        """Every third of the duration; after a failure every second, until two thirds of it have passed without a renewal."""
        interval = self.duration / 3
        while not self.stopped.wait(interval):
            outcome = self.renew_once()
            if outcome == 'lost':
                return
            interval = self.duration / 3 if outcome == 'renewed' else 1.0
            if outcome == 'failed' and self.clock() - self.renewed_at >= self.duration * 2 / 3:
                # Stop acting before anyone may call the lease stale and take it over.
                self.held.clear()
                self.on_lost(f'not renewed for {self.clock() - self.renewed_at:.0f} s of its {self.duration} s')
                return

    def release(self):
        """Empties holderIdentity if this Job still holds the Lease (a conflict is read again)."""
        self.stopped.set()
        if self.renewer:
            self.renewer.join(timeout=20)
        if not self.held.is_set():
            return
        self.held.clear()
        for _ in range(5):
            try:
                lease = self.read()
                if self.holder_of(lease) != self.identity:
                    return
                ok, _ = self.write(lease, holderIdentity=None, renewTime=micro_time())
            except LeaseError as error:
                log(f'lease {self.name}: releasing failed ({error}); it goes stale after {self.duration} s')
                return
            if ok:
                log(f'lease {self.name}: released by {self.identity} at {micro_time()}')
                return
        log(f'lease {self.name}: not released (conflicts); it goes stale after {self.duration} s')

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False
