/* SPDX-License-Identifier: BSD-2-Clause */
/* The certificate protocol (certflow.h) one request at a time, for the
 * commands that provision this device. */
#ifndef TP_CERTSYNC_H
#define TP_CERTSYNC_H

#include "src/aws/http.h"
#include "src/base/err.h"
#include "src/cmd/certflow.h"

/* Send f's requests to svc one after the other, from r (what the start of
 * f returned), saying each step, until the record ends: 0 when it is
 * accepted, -1 with err set when it was refused or failed (its reason) or
 * the protocol stopped. */
int tp_certsync_run(const struct tp_service *svc, struct tp_certflow *f, int r, struct tp_error *err);

#endif
