/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.115: drm_sched_init() takes a struct drm_sched_init_args. */
#include <drm/gpu_scheduler.h>

int irisxe_probe(struct drm_gpu_scheduler *sched, const struct drm_sched_init_args *args)
{
	return drm_sched_init(sched, args);
}
