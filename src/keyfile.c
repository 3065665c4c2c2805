/*
 * TSSPRIVKEY ::= SEQUENCE {
 *     type        OBJECT IDENTIFIER,          -- 2.23.133.10.1.3, loadable key
 *     emptyAuth   [0] EXPLICIT BOOLEAN OPTIONAL,
 *     policy      [1] EXPLICIT SEQUENCE OF TPMPolicy OPTIONAL,
 *     secret      [2] EXPLICIT OCTET STRING OPTIONAL,
 *     parent      INTEGER,
 *     pubkey      OCTET STRING,               -- marshalled TPM2B_PUBLIC
 *     privkey     OCTET STRING                -- marshalled TPM2B_PRIVATE
 * }
 * We write type, emptyAuth, parent, pubkey and privkey and read the same;
 * a key with a policy or an imported secret is not one this program made.
 */
#include "keyfile.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "fsutil.h"
#include "ossl.h"

#define KEYFILE_PEM_NAME "TSS2 PRIVATE KEY"
#define OID_LOADABLE_KEY "2.23.133.10.1.3"
#define SRK_HANDLE 0x81000001u
#define KEYFILE_MAX (16 * 1024)

typedef struct {
	ASN1_OBJECT *type;
	ASN1_BOOLEAN empty_auth;
	ASN1_INTEGER *parent;
	ASN1_OCTET_STRING *pubkey;
	ASN1_OCTET_STRING *privkey;
} TP_TSSPRIVKEY;

DECLARE_ASN1_FUNCTIONS(TP_TSSPRIVKEY)

ASN1_SEQUENCE(TP_TSSPRIVKEY) = {
	ASN1_SIMPLE(TP_TSSPRIVKEY, type, ASN1_OBJECT),
	ASN1_EXP_OPT(TP_TSSPRIVKEY, empty_auth, ASN1_BOOLEAN, 0),
	ASN1_SIMPLE(TP_TSSPRIVKEY, parent, ASN1_INTEGER),
	ASN1_SIMPLE(TP_TSSPRIVKEY, pubkey, ASN1_OCTET_STRING),
	ASN1_SIMPLE(TP_TSSPRIVKEY, privkey, ASN1_OCTET_STRING)
} ASN1_SEQUENCE_END(TP_TSSPRIVKEY)

IMPLEMENT_ASN1_FUNCTIONS(TP_TSSPRIVKEY)

static int split_path(const char *path, char **ret_dir, char **ret_base, struct tp_error *err)
{
	char *a = strdup(path), *b = strdup(path), *dir, *base;

	if (!a || !b) {
		free(a);
		free(b);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	dir = strdup(dirname(a));
	base = strdup(basename(b));
	free(a);
	free(b);
	if (!dir || !base) {
		free(dir);
		free(base);
		return tp_error_set(err, EX_IOERR, "out of memory");
	}
	*ret_dir = dir;
	*ret_base = base;
	return 0;
}

int tp_keyfile_write(const char *path, const struct tp_tpm_blob *blob, bool empty_auth, struct tp_error *err)
{
	TP_TSSPRIVKEY *k = TP_TSSPRIVKEY_new();
	unsigned char *der = NULL;
	char *dir = NULL, *base = NULL, *data;
	BIO *bio = NULL;
	long len;
	int der_len, r = -1;

	if (!k || !(k->type = OBJ_txt2obj(OID_LOADABLE_KEY, 1)) || !ASN1_INTEGER_set_uint64(k->parent, SRK_HANDLE) ||
	    !ASN1_OCTET_STRING_set(k->pubkey, blob->pub, (int)blob->pub_len) ||
	    !ASN1_OCTET_STRING_set(k->privkey, blob->priv, (int)blob->priv_len)) {
		tp_error_ossl(err, EX_IOERR, "cannot encode the key file %s", path);
		goto out;
	}
	k->empty_auth = empty_auth ? 0xff : 0;
	der_len = i2d_TP_TSSPRIVKEY(k, &der);
	bio = BIO_new(BIO_s_mem());
	if (der_len <= 0 || !bio || !PEM_write_bio(bio, KEYFILE_PEM_NAME, "", der, der_len)) {
		tp_error_ossl(err, EX_IOERR, "cannot encode the key file %s", path);
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (split_path(path, &dir, &base, err) < 0 ||
	    tp_write_file_atomic(dir, base, data, (size_t)len, 0600, err) < 0)
		goto out;
	r = 0;
out:
	free(dir);
	free(base);
	BIO_free(bio);
	OPENSSL_free(der);
	TP_TSSPRIVKEY_free(k);
	return r;
}

int tp_keyfile_read(const char *path, struct tp_tpm_blob *ret_blob, struct tp_error *err)
{
	struct tp_tpm_blob blob = { 0 };
	TP_TSSPRIVKEY *k = NULL;
	char *buf = NULL, *name = NULL, *header = NULL, oid[64];
	unsigned char *der = NULL;
	const unsigned char *p;
	uint64_t parent;
	BIO *bio = NULL;
	long der_len;
	size_t len;
	int r;

	r = tp_read_file(path, KEYFILE_MAX, &buf, &len, err);
	if (r != 0)
		return r;
	r = -1;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio || !PEM_read_bio(bio, &name, &header, &der, &der_len) || strcmp(name, KEYFILE_PEM_NAME) != 0) {
		tp_error_ossl(err, EX_CONFIG, "%s is not a \"" KEYFILE_PEM_NAME "\" PEM file", path);
		goto out;
	}
	p = der;
	k = d2i_TP_TSSPRIVKEY(NULL, &p, der_len);
	if (!k || OBJ_obj2txt(oid, sizeof(oid), k->type, 1) <= 0 || strcmp(oid, OID_LOADABLE_KEY) != 0 ||
	    !ASN1_INTEGER_get_uint64(&parent, k->parent)) {
		tp_error_ossl(err, EX_CONFIG, "%s is not a loadable TPM key file", path);
		goto out;
	}
	if (parent != SRK_HANDLE) {
		tp_error_set(err, EX_CONFIG, "%s: the key's parent is 0x%llx, not the storage root key at 0x%08x",
			     path, (unsigned long long)parent, SRK_HANDLE);
		goto out;
	}
	if ((size_t)k->pubkey->length > sizeof(blob.pub) || (size_t)k->privkey->length > sizeof(blob.priv)) {
		tp_error_set(err, EX_CONFIG, "%s: the key's parts are too large", path);
		goto out;
	}
	memcpy(blob.pub, k->pubkey->data, (size_t)k->pubkey->length);
	blob.pub_len = (size_t)k->pubkey->length;
	memcpy(blob.priv, k->privkey->data, (size_t)k->privkey->length);
	blob.priv_len = (size_t)k->privkey->length;
	*ret_blob = blob;
	r = 0;
out:
	explicit_bzero(&blob, sizeof(blob));
	TP_TSSPRIVKEY_free(k);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	free(buf);
	return r;
}
