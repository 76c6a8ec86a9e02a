"""The commands of ``paxoscope``: argparse and printing, one module a command, over the engines."""
