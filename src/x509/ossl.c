/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/x509/ossl.h"

#include <stdarg.h>
#include <string.h>

#include <openssl/err.h>

void tp_error_ossl_record(struct tp_error *err, int exit_code, const char *fmt, ...)
{
	unsigned long e, last = 0;
	char reason[256];
	va_list ap;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (!err || err->exit_code != 0)
		return;
	va_start(ap, fmt);
	tp_error_setv(err, exit_code, fmt, ap);
	va_end(ap);
	if (last) {
		ERR_error_string_n(last, reason, sizeof(reason));
		tp_error_append(err, "%s", reason);
	}
}

int tp_bio_to_string(BIO *bio, char **ret, struct tp_error *err)
{
	char *data, *s;
	long len = BIO_get_mem_data(bio, &data);

	s = len >= 0 ? strndup(data, (size_t)len) : NULL;
	if (!s)
		return tp_error_oom(err);
	*ret = s;
	return 0;
}
