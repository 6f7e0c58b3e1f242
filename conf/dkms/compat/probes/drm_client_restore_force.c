/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debian 6.12.112: the drm_client_funcs restore callback takes bool force. */
#include <drm/drm_client.h>

int irisxe_probe_restore(struct drm_client_dev *client, bool force);

const struct drm_client_funcs irisxe_probe = {
	.restore = irisxe_probe_restore,
};
