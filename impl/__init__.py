"""Implementations: a generic runtime (simulator with faults and schedules, framing,
asyncio TCP host, durable store, process supervision, conformance driver) that
takes a protocol (``protocol.RuntimeProtocol``), and each protocol's sans-I/O
core, messages and refinement mapping in a package of its own (``paxos``)."""
