/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.113: drm_fb_helper_restore_fbdev_mode_unlocked() takes bool force. */
#include <drm/drm_fb_helper.h>

int irisxe_probe(struct drm_fb_helper *helper)
{
	return drm_fb_helper_restore_fbdev_mode_unlocked(helper, false);
}
