"""The running machine's VFs: make the configured count, bind each VF per its role and
write the scheduling profile (vfs), give a VF to a guest (attach) and name it
cluster-wide on Proxmox VE (pvecluster)."""
