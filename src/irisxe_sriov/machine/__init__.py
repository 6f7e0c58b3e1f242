"""Gather once: the read-only picture of a root. reader reads the host (every bounded read
goes through it), the other modules read one subject each (installed packages, apt
sources, Secure Boot, the machine's role), and snapshot gathers them into the one frozen
Snapshot a command judges."""
