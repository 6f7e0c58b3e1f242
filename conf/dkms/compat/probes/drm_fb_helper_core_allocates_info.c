/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.103: the fbdev core allocates helper->info itself and
 * drm_fb_helper_alloc_info() is gone. This compiles only where the header no
 * longer declares it (a declaration would conflict with this one). */
#include <drm/drm_fb_helper.h>

int drm_fb_helper_alloc_info(int irisxe_probe);
