"""irisxe-sriov: Intel iGPU SR-IOV on Debian 13, configured from one settings file.

Pure: the version only."""

__version__ = "0.2.0"
