/* SPDX-License-Identifier: BSD-2-Clause */
/* What every call to the service takes: the settings of a run, and one
 * request.  Shared by the blocking call (http.h) and the transfer both
 * calls are made of (transfer.h). */
#ifndef TP_SERVICE_H
#define TP_SERVICE_H

#include <stdbool.h>

#include "src/aws/creds.h"

/* The service settings of a run. */
struct tp_service {
	const char *endpoint; /* https://host[:port], no trailing slash */
	const char *region;
	const char *signing_name; /* "iot" or "execute-api" */
	const char *ca_bundle;	  /* NULL: the system's trust store */
	const struct tp_creds *creds;
	bool allow_http;   /* plain http (a loopback endpoint, tests) */
	unsigned deadline; /* seconds for all attempts of one call */
	/* Told about each retry, with the reason; NULL for silence.  The
	 * client itself never prints. */
	void (*note_retry)(const char *line);
	/* Told each answer's status line and request id (for -v); NULL for
	 * silence. */
	void (*note_debug)(const char *line);
};

/* One request: method on endpoint + path, a JSON body or none, and one
 * more header line to send (and sign), or none. */
struct tp_http_request {
	const char *method;
	const char *path;
	const char *body;
	const char *header;
};

#endif
