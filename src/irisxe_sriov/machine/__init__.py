"""Gather once: the read-only picture of a root. The readers are here and only here:
reader (every bounded read; the PCI scan), bootfiles, kernelfiles, modinfo, aptdpkg and
users each read one subject, and gather reads a command's depth of them into the frozen
Snapshot (snapshot: the types, pure). roles, packages, aptsources and secureboot are the
pure meaning of what is read."""
