"""The kernels and who makes the VFs on each: the pinned DKMS build (dkms) or the kernel's
own xe, the choice between them (providers), Debian's version order (debversion) and the
kernel hold (hold). All pure: machine/kernelfiles.py reads the kernels' files."""
