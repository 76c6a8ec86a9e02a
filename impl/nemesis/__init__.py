"""Jepsen's method on a local cluster: concurrent clients, a nemesis that kills, pauses, restarts and
partitions the replicas, the client history checked for linearizability.

- ``proxy``: the replicas talk through relays on loopback, one per directed link, that a cut silences;
- ``faults``: the fault schedule drawn from a seed, bounded in time and count;
- ``workload``: the clients, their random operations, and the check for lost acknowledged writes;
- ``history``: the calls and returns as Jepsen records them, written as EDN for ``paxoscope lincheck``;
- ``cluster``: a local cluster of real processes as a target, its faults done with signals and proxies;
- ``run``: one run from start to verdict.
"""
