/* The install step: certificate and state, each replaced atomically. */
#ifndef TP_INSTALL_H
#define TP_INSTALL_H

#include <openssl/x509.h>

#include "err.h"
#include "state.h"

/* Write certificate.pem (0644), then state.json (0644), the record that
 * makes the device count as provisioned, so it is written last. */
int tp_install(const char *dir, X509 *cert, const struct tp_state *state,
	       struct tp_error *err);

#endif
