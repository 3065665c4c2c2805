/* SPDX-License-Identifier: BSD-2-Clause */
#include "src/x509/cert.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "src/store/file.h"
#include "src/x509/ossl.h"

/* A certificate file or answer is at most this large. */
#define CERT_FILE_MAX (64 * 1024)

static int parse_pem(const char *pem, size_t len, const char *what, bool only_one, X509 **ret_cert,
		     struct tp_error *err)
{
	_cleanup_bio_ BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	_cleanup_x509_ X509 *cert = NULL, *extra = NULL;

	if (!bio)
		return tp_error_oom(err);
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!cert)
		return tp_error_ossl(err, EX_DATAERR, "%s is not a PEM certificate", what);
	extra = only_one ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	ERR_clear_error();
	if (extra)
		return tp_error_set(err, EX_DATAERR, "%s holds more than one certificate", what);
	*ret_cert = TAKE_PTR(cert);
	return 0;
}

int tp_cert_parse_pem(const char *pem, size_t len, const char *what, X509 **ret_cert, struct tp_error *err)
{
	return parse_pem(pem, len, what, true, ret_cert, err);
}

int tp_cert_parse_first_pem(const char *pem, size_t len, const char *what, X509 **ret_cert, struct tp_error *err)
{
	return parse_pem(pem, len, what, false, ret_cert, err);
}

int tp_cert_read_file(const char *path, X509 **ret_cert, struct tp_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = tp_read_file(path, CERT_FILE_MAX, &buf, &len, err);
	if (r != 0)
		return r;
	return tp_cert_parse_pem(buf, len, path, ret_cert, err);
}

int tp_cert_check_key(X509 *cert, EVP_PKEY *expected, const char *what, struct tp_error *err)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	if (!pub)
		return tp_error_ossl(err, EX_DATAERR, "%s has a public key OpenSSL cannot read", what);
	if (EVP_PKEY_eq(pub, expected) != 1) {
		ERR_clear_error();
		return tp_error_set(err, EX_DATAERR, "%s is for another key, not the TPM key", what);
	}
	return 0;
}

/* An ASN1_TIME as text for a message. */
static void asn1_time_text(const ASN1_TIME *t, char *buf, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = bio && ASN1_TIME_print(bio, t) ? BIO_read(bio, buf, (int)len - 1) : 0;

	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

int tp_cert_check_validity(X509 *cert, const char *what, struct tp_error *err)
{
	char when[64];

	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		asn1_time_text(X509_get0_notBefore(cert), when, sizeof(when));
		return tp_error_set(err, EX_DATAERR, "%s is not valid yet (notBefore %s)", what, when);
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		asn1_time_text(X509_get0_notAfter(cert), when, sizeof(when));
		return tp_error_set(err, EX_DATAERR, "%s has expired (notAfter %s)", what, when);
	}
	return 0;
}

int tp_cert_id(X509 *cert, char out[TP_CERT_ID_MAX], struct tp_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (!X509_digest(cert, EVP_sha256(), md, &n) || 2 * n + 1 > TP_CERT_ID_MAX)
		return tp_error_ossl(err, EX_IOERR, "cannot hash the certificate");
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * n] = '\0';
	return 0;
}

int tp_cert_to_pem(X509 *cert, char **ret_pem, struct tp_error *err)
{
	_cleanup_bio_ BIO *bio = BIO_new(BIO_s_mem());

	if (!bio || !PEM_write_bio_X509(bio, cert))
		return tp_error_ossl(err, EX_IOERR, "cannot encode the certificate as PEM");
	return tp_bio_to_string(bio, ret_pem, err);
}

int tp_cert_load_file(const char *path, X509 **ret_cert, char **ret_pem, struct tp_error *err)
{
	_cleanup_x509_ X509 *cert = NULL;
	int r;

	r = tp_cert_read_file(path, &cert, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_CONFIG, "certificate file %s does not exist", path);
	if (r < 0 || tp_cert_to_pem(cert, ret_pem, err) < 0)
		return -1;
	*ret_cert = TAKE_PTR(cert);
	return 0;
}

/* An ASN1_TIME as RFC 3339 UTC. */
static void asn1_rfc3339(const ASN1_TIME *t, char out[TP_TIME_MAX])
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, TP_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, TP_TIME_MAX, "unknown");
}

static int name_text(const X509_NAME *name, char **ret, struct tp_error *err)
{
	_cleanup_bio_ BIO *bio = BIO_new(BIO_s_mem());

	if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0)
		return tp_error_ossl(err, EX_SOFTWARE, "cannot print a certificate name");
	return tp_bio_to_string(bio, ret, err);
}

int tp_cert_describe(X509 *cert, struct tp_cert_info *ret, struct tp_error *err)
{
	struct tp_cert_info c = { 0 };
	int days = 0, secs = 0;

	if (name_text(X509_get_subject_name(cert), &c.subject, err) < 0 ||
	    name_text(X509_get_issuer_name(cert), &c.issuer, err) < 0) {
		tp_cert_info_free(&c);
		return -1;
	}
	asn1_rfc3339(X509_get0_notBefore(cert), c.not_before);
	asn1_rfc3339(X509_get0_notAfter(cert), c.not_after);
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) == 1)
		c.days_left = days;
	*ret = c;
	return 0;
}

void tp_cert_info_free(struct tp_cert_info *c)
{
	if (!c)
		return;
	free(c->subject);
	free(c->issuer);
	*c = (struct tp_cert_info){ 0 };
}
