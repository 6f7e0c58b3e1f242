/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * irisxe-sriov compat layer (docs/notes.md, "The compat layer"): found before the
 * kernel's <drm/drm_exec.h> on the include path (NOSTDINC_FLAGS), includes it and lets
 * drm_exec_for_each_locked_object take both forms where Debian 6.12.105 dropped the
 * index argument: (exec, obj), the kernel's, and (exec, index, obj), the pinned
 * source's, with the meaning it had before the change (the caller's index counts up
 * from 0). Without IRISXE_HAVE_DRM_EXEC_FOR_EACH_LOCKED_OBJECT_2ARGS it only includes
 * the kernel's header.
 */
#include_next <drm/drm_exec.h>

#ifndef IRISXE_COMPAT_DRM_EXEC_H
#define IRISXE_COMPAT_DRM_EXEC_H

#include <irisxe-have.h>

#ifdef IRISXE_HAVE_DRM_EXEC_FOR_EACH_LOCKED_OBJECT_2ARGS
#include <irisxe-compat.h> /* IRISXE_BY_ARITY */

#undef drm_exec_for_each_locked_object
#define drm_exec_for_each_locked_object(...) \
	IRISXE_BY_ARITY(irisxe_drm_exec_for_each_locked_object_, __VA_ARGS__)
#define irisxe_drm_exec_for_each_locked_object_2(exec, obj) \
	__drm_exec_for_each_locked_object(exec, obj, __UNIQUE_ID(drm_exec))
#define irisxe_drm_exec_for_each_locked_object_3(exec, index, obj) \
	for ((index) = 0; ((obj) = drm_exec_obj(exec, index)); ++(index))
#endif

#endif /* IRISXE_COMPAT_DRM_EXEC_H */
