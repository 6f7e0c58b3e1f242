/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.100: pci_resize_resource() gained an exclude_bars argument. */
#include <linux/pci.h>

int irisxe_probe(struct pci_dev *dev)
{
	return pci_resize_resource(dev, 0, 0, 0);
}
