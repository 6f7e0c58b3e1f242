/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.85 (a stable update):
 * __copy_from_user_inatomic_nocache became copy_from_user_inatomic_nontemporal. */
#include <linux/uaccess.h>

unsigned long irisxe_probe(void *to, const void __user *from, unsigned long n)
{
	return copy_from_user_inatomic_nontemporal(to, from, n);
}
