/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * irisxe-sriov compat layer, force-included (KCFLAGS=-include) into every object of the
 * pinned i915-sriov-dkms source when dkms builds it (docs/notes.md, "The compat layer").
 *
 * The pinned release chooses kernel APIs by LINUX_VERSION_CODE only, and Debian took
 * upstream stable updates into its 6.12 kernels that changed some of those APIs. Each
 * mapping below is defined only where irisxe-probe found the newer API in the target
 * kernel's headers (IRISXE_HAVE_*, generated into irisxe-have.h), and maps the old call
 * the pinned source makes onto the new one. Without any IRISXE_HAVE_* this header
 * defines nothing but the arity helpers.
 *
 * Calls whose number of arguments changed are dispatched on that number, so the kernel
 * header's own declaration (new arity) passes through unchanged while the pinned
 * source's calls (old arity) gain the new argument.
 */
#ifndef IRISXE_COMPAT_H
#define IRISXE_COMPAT_H

#include <irisxe-have.h>

/* IRISXE_BY_ARITY(prefix, args...) calls prefix<number of args>(args...). */
#define IRISXE_NARGS(...) IRISXE_NARGS_(__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define IRISXE_NARGS_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) n
#define IRISXE_CAT(a, b) IRISXE_CAT_(a, b)
#define IRISXE_CAT_(a, b) a##b
#define IRISXE_BY_ARITY(prefix, ...) IRISXE_CAT(prefix, IRISXE_NARGS(__VA_ARGS__))(__VA_ARGS__)

/* Debian 6.12.85: __copy_from_user_inatomic_nocache was renamed. */
#ifdef IRISXE_HAVE_COPY_FROM_USER_INATOMIC_NONTEMPORAL
#define __copy_from_user_inatomic_nocache copy_from_user_inatomic_nontemporal
#endif

/*
 * Debian 6.12.100: pci_resize_resource(dev, resno, size, exclude_bars). The pinned
 * source releases its BARs itself before resizing; 0 excludes none, which is what
 * Debian's in-tree i915 and xe pass.
 */
#ifdef IRISXE_HAVE_PCI_RESIZE_RESOURCE_EXCLUDE_BARS
#define pci_resize_resource(...) IRISXE_BY_ARITY(irisxe_pci_resize_resource_, __VA_ARGS__)
#define irisxe_pci_resize_resource_3(dev, resno, size) pci_resize_resource(dev, resno, size, 0)
#define irisxe_pci_resize_resource_4(dev, resno, size, exclude_bars) \
	pci_resize_resource(dev, resno, size, exclude_bars)
#endif

/*
 * Debian 6.12.101: the DRM buddy allocator became the GPU buddy allocator in
 * <linux/gpu_buddy.h> (<drm/drm_buddy.h> still exists and includes it). Same types and
 * functions under new names; drm_buddy_print and drm_buddy_block_print keep theirs.
 */
#ifdef IRISXE_HAVE_GPU_BUDDY
#define drm_buddy gpu_buddy
#define drm_buddy_block gpu_buddy_block
#define drm_buddy_alloc_blocks gpu_buddy_alloc_blocks
#define drm_buddy_block_is_allocated gpu_buddy_block_is_allocated
#define drm_buddy_block_is_clear gpu_buddy_block_is_clear
#define drm_buddy_block_is_free gpu_buddy_block_is_free
#define drm_buddy_block_is_split gpu_buddy_block_is_split
#define drm_buddy_block_offset gpu_buddy_block_offset
#define drm_buddy_block_order gpu_buddy_block_order
#define drm_buddy_block_size gpu_buddy_block_size
#define drm_buddy_block_state gpu_buddy_block_state
#define drm_buddy_block_trim gpu_buddy_block_trim
#define drm_buddy_fini gpu_buddy_fini
#define drm_buddy_free_block gpu_buddy_free_block
#define drm_buddy_free_list gpu_buddy_free_list
#define drm_buddy_init gpu_buddy_init
#define drm_buddy_reset_clear gpu_buddy_reset_clear
#define DRM_BUDDY_ALLOCATED GPU_BUDDY_ALLOCATED
#define DRM_BUDDY_CLEARED GPU_BUDDY_CLEARED
#define DRM_BUDDY_CLEAR_ALLOCATION GPU_BUDDY_CLEAR_ALLOCATION
#define DRM_BUDDY_CONTIGUOUS_ALLOCATION GPU_BUDDY_CONTIGUOUS_ALLOCATION
#define DRM_BUDDY_FREE GPU_BUDDY_FREE
#define DRM_BUDDY_HEADER_CLEAR GPU_BUDDY_HEADER_CLEAR
#define DRM_BUDDY_HEADER_OFFSET GPU_BUDDY_HEADER_OFFSET
#define DRM_BUDDY_HEADER_ORDER GPU_BUDDY_HEADER_ORDER
#define DRM_BUDDY_HEADER_STATE GPU_BUDDY_HEADER_STATE
#define DRM_BUDDY_HEADER_UNUSED GPU_BUDDY_HEADER_UNUSED
#define DRM_BUDDY_RANGE_ALLOCATION GPU_BUDDY_RANGE_ALLOCATION
#define DRM_BUDDY_SPLIT GPU_BUDDY_SPLIT
#define DRM_BUDDY_TOPDOWN_ALLOCATION GPU_BUDDY_TOPDOWN_ALLOCATION
#define DRM_BUDDY_TRIM_DISABLE GPU_BUDDY_TRIM_DISABLE
#endif

/*
 * Debian 6.12.105: drm_exec_for_each_locked_object(exec, obj) lost its index. It is a
 * macro of <drm/drm_exec.h>, so it is bridged by include/drm/drm_exec.h of this layer,
 * found before the kernel's on the include path (NOSTDINC_FLAGS).
 */

/*
 * Debian 6.12.115: drm_sched_init(sched, const struct drm_sched_init_args *). The
 * pinned source's pre-6.15 call passes the eleven values the struct now holds; the
 * struct is only read during the call, so a compound literal is enough.
 */
#ifdef IRISXE_HAVE_DRM_SCHED_INIT_ARGS
#define drm_sched_init(...) IRISXE_BY_ARITY(irisxe_drm_sched_init_, __VA_ARGS__)
#define irisxe_drm_sched_init_2(sched, args) drm_sched_init(sched, args)
#define irisxe_drm_sched_init_11(sched, ops_, submit_wq_, num_rqs_, credit_limit_, \
				 hang_limit_, timeout_, timeout_wq_, score_, name_, dev_) \
	drm_sched_init(sched, &(const struct drm_sched_init_args){			\
		.ops = (ops_),								\
		.submit_wq = (submit_wq_),						\
		.num_rqs = (num_rqs_),							\
		.credit_limit = (credit_limit_),					\
		.hang_limit = (hang_limit_),						\
		.timeout = (timeout_),							\
		.timeout_wq = (timeout_wq_),						\
		.score = (score_),							\
		.name = (name_),							\
		.dev = (dev_),								\
	})
#endif

/*
 * Debian 6.12.103: drm_sched_job_init() gained a drm_client_id, which only the
 * scheduler's trace points report; the pinned source's pre-6.17 call passes none (0).
 */
#ifdef IRISXE_HAVE_DRM_SCHED_JOB_INIT_CLIENT_ID
#define drm_sched_job_init(...) IRISXE_BY_ARITY(irisxe_drm_sched_job_init_, __VA_ARGS__)
#define irisxe_drm_sched_job_init_4(job, entity, credits, owner) \
	drm_sched_job_init(job, entity, credits, owner, 0)
#define irisxe_drm_sched_job_init_5(job, entity, credits, owner, client_id) \
	drm_sched_job_init(job, entity, credits, owner, client_id)
#endif

/*
 * Debian 6.12.103: the fbdev core allocates helper->info before it calls the driver's
 * fb_probe and releases it itself; drm_fb_helper_alloc_info() is gone. The driver gets
 * the core's fb_info.
 */
#ifdef IRISXE_HAVE_DRM_FB_HELPER_CORE_ALLOCATES_INFO
#define drm_fb_helper_alloc_info(helper) ((helper)->info)
#endif

/*
 * Debian 6.12.113: drm_fb_helper_restore_fbdev_mode_unlocked(helper, force). The
 * core's own caller passes false; so does the pinned source's call here.
 */
#ifdef IRISXE_HAVE_DRM_FB_HELPER_RESTORE_FORCE
#define drm_fb_helper_restore_fbdev_mode_unlocked(...) \
	IRISXE_BY_ARITY(irisxe_drm_fb_helper_restore_fbdev_mode_unlocked_, __VA_ARGS__)
#define irisxe_drm_fb_helper_restore_fbdev_mode_unlocked_1(helper) \
	drm_fb_helper_restore_fbdev_mode_unlocked(helper, false)
#define irisxe_drm_fb_helper_restore_fbdev_mode_unlocked_2(helper, force) \
	drm_fb_helper_restore_fbdev_mode_unlocked(helper, force)
#endif

/*
 * Debian 6.12.112: the drm_client_funcs restore callback takes bool force. The pinned
 * source defines one such callback, intel_fbdev_client_restore(client); its definition
 * gains the parameter (unused, as in the pinned driver's logic), and a reference to it
 * without a call (the .restore initialiser) is not a macro invocation.
 */
#ifdef IRISXE_HAVE_DRM_CLIENT_RESTORE_FORCE
#define intel_fbdev_client_restore(...) \
	IRISXE_BY_ARITY(irisxe_intel_fbdev_client_restore_, __VA_ARGS__)
#define irisxe_intel_fbdev_client_restore_1(client) \
	intel_fbdev_client_restore(client, bool irisxe_force)
#define irisxe_intel_fbdev_client_restore_2(client, force) \
	intel_fbdev_client_restore(client, force)
#endif

#endif /* IRISXE_COMPAT_H */
