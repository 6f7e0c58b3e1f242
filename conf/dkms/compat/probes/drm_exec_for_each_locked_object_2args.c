/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.105: drm_exec_for_each_locked_object(exec, obj) lost its index. */
#include <drm/drm_exec.h>

int irisxe_probe(struct drm_exec *exec)
{
	struct drm_gem_object *obj;
	int count = 0;

	drm_exec_for_each_locked_object(exec, obj)
		count++;
	return count;
}
