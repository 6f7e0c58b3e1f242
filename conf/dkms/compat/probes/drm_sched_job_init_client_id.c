/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.103: drm_sched_job_init() gained a drm_client_id argument. */
#include <drm/gpu_scheduler.h>

int irisxe_probe(struct drm_sched_job *job, struct drm_sched_entity *entity)
{
	return drm_sched_job_init(job, entity, 1, NULL, 0);
}
