/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.101: the DRM buddy allocator moved to <linux/gpu_buddy.h> with
 * gpu_buddy_* / GPU_BUDDY_* names. */
#include <linux/gpu_buddy.h>

u64 irisxe_probe(struct gpu_buddy_block *block)
{
	return gpu_buddy_block_offset(block) + GPU_BUDDY_RANGE_ALLOCATION;
}
