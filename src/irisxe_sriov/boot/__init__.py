"""The boot: which boot path carries the kernel command line (bootloader), which kernel
boots next (nextboot), and why the running kernel lacks our parameters (bootcheck). All
pure: machine/bootfiles.py reads the boot files."""
