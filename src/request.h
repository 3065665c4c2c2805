/* The service step's journal (request.json, see state.h). */
#ifndef TP_REQUEST_H
#define TP_REQUEST_H

#include "err.h"
#include "service.h"
#include "state.h"

/* The record for the key named key_name: 1 with it, 0 when there is none
 * for this key (a record for another key is ignored). */
int tp_request_load(const char *dir, const char *key_name, struct tp_request *ret_request,
		    struct tp_error *err);

/* Record, durably, that a request for key_name is about to be sent, and
 * when (ret_sent_at[TP_TIME_MAX]). */
int tp_request_save_sent(const char *dir, const char *key_name, char *ret_sent_at, struct tp_error *err);

/* Record, durably, the certificate received for key_name. */
int tp_request_save_received(const char *dir, const char *key_name, const char *sent_at,
			     const struct tp_issued_cert *cert, struct tp_error *err);

/* The certificate of a "certificate-received" record. */
int tp_request_issued(const struct tp_request *q, struct tp_issued_cert *ret_cert, struct tp_error *err);

#endif
