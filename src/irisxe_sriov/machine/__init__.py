"""Gather once: the read-only picture of a root. The machine's readers are here (outside,
apply, configure, attach and the cluster sync read only through reader.py): reader (every
bounded read; the PCI scan), bootfiles, kernelfiles, modinfo, aptdpkg and
users each read one subject, and gather reads a command's depth of them into the frozen
Snapshot (snapshot: the types, pure). roles, packages, aptsources and secureboot are the
pure meaning of what is read."""
