"""`python3 -m irisxe_sriov` runs irisxe-sriov-ctl."""

from irisxe_sriov.cli.entry import main

if __name__ == "__main__":
    main()
