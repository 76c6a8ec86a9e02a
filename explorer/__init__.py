"""Protocol-agnostic engines over any spec: exhaustive search, traces, rendering."""
