"""The real Paxos: sans-I/O core, durable storage, network and simulator."""
