#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"

int tp_request_load(const char *dir, const char *key_name, struct tp_request *ret_request, struct tp_error *err)
{
	struct tp_request q = { 0 };
	char path[4096], *json = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, TP_REQUEST_FILE);
	r = tp_read_file(path, TP_STATE_MAX + 4 * TP_CERT_PEM_MAX, &json, &len, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = tp_request_parse(json, len, path, &q, err);
	free(json);
	if (r < 0)
		return -1;
	if (strcmp(q.key_name, key_name) != 0) {
		tp_request_free(&q);
		return 0;
	}
	*ret_request = q;
	return 1;
}

static int save(const char *dir, const struct tp_request *q, struct tp_error *err)
{
	char *json = NULL;
	int r;

	if (tp_request_format(q, &json, err) < 0)
		return -1;
	r = tp_write_file_atomic(dir, TP_REQUEST_FILE, json, strlen(json), 0600, err);
	free(json);
	return r;
}

int tp_request_save_sent(const char *dir, const char *key_name, char *ret_sent_at, struct tp_error *err)
{
	char when[TP_TIME_MAX];

	tp_format_time(time(NULL), when);
	if (save(dir, &(struct tp_request){ .phase = TP_PHASE_REQUEST_SENT, .key_name = (char *)key_name, .sent_at = when },
		 err) < 0)
		return -1;
	memcpy(ret_sent_at, when, sizeof(when));
	return 0;
}

int tp_request_save_received(const char *dir, const char *key_name, const char *sent_at,
			     const struct tp_issued_cert *cert, struct tp_error *err)
{
	return save(dir,
		    &(struct tp_request){
			    .phase = TP_PHASE_CERT_RECEIVED,
			    .key_name = (char *)key_name,
			    .sent_at = (char *)sent_at,
			    .certificate_id = cert->id,
			    .certificate_arn = cert->arn,
			    .certificate_pem = cert->pem,
		    },
		    err);
}

int tp_request_issued(const struct tp_request *q, struct tp_issued_cert *ret_cert, struct tp_error *err)
{
	struct tp_issued_cert c = {
		.id = strdup(q->certificate_id),
		.arn = strdup(q->certificate_arn),
		.pem = strdup(q->certificate_pem),
	};

	if (!c.id || !c.arn || !c.pem) {
		tp_issued_cert_free(&c);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	*ret_cert = c;
	return 0;
}
