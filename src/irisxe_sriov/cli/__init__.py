"""What a person meets: the irisxe-sriov-ctl command line (entry, commands, the reporting
commands in reports) and the debconf questions of the maintainer scripts (debconf_ui), and
how an error reaches them (failure)."""
