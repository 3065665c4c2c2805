/* SPDX-License-Identifier: BSD-2-Clause */
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
#include "src/x509/keyfile.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "src/store/file.h"
#include "src/x509/ossl.h"

#define KEYFILE_PEM_NAME "TSS2 PRIVATE KEY"
#define OID_LOADABLE_KEY "2.23.133.10.1.3"
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
/* OpenSSL's template macros, which cppcheck's openssl library lacks. */
// cppcheck-suppress unknownMacro
} ASN1_SEQUENCE_END(TP_TSSPRIVKEY)

IMPLEMENT_ASN1_FUNCTIONS(TP_TSSPRIVKEY)

TP_DEFINE_POINTER_CLEANUP(TP_TSSPRIVKEY, TP_TSSPRIVKEY_free)

static void openssl_freep(void *p)
{
	OPENSSL_free(*(void **)p);
}

/* The key file as PEM text in a memory BIO. */
static int encode(const struct tpm_blob *blob, bool empty_auth, BIO **ret_bio, const char *path, struct tp_error *err)
{
	_cleanup_(TP_TSSPRIVKEY_freep) TP_TSSPRIVKEY *k = TP_TSSPRIVKEY_new();
	_cleanup_(openssl_freep) unsigned char *der = NULL;
	_cleanup_bio_ BIO *bio = NULL;
	int der_len;

	if (!k || !(k->type = OBJ_txt2obj(OID_LOADABLE_KEY, 1)) ||
	    !ASN1_INTEGER_set_uint64(k->parent, TPM_SRK_HANDLE) ||
	    !ASN1_OCTET_STRING_set(k->pubkey, blob->pub, (int)blob->pub_len) ||
	    !ASN1_OCTET_STRING_set(k->privkey, blob->priv, (int)blob->priv_len))
		return tp_error_ossl(err, EX_IOERR, "cannot encode the key file %s", path);
	k->empty_auth = empty_auth ? 0xff : 0;
	der_len = i2d_TP_TSSPRIVKEY(k, &der);
	bio = BIO_new(BIO_s_mem());
	if (der_len <= 0 || !bio || !PEM_write_bio(bio, KEYFILE_PEM_NAME, "", der, der_len))
		return tp_error_ossl(err, EX_IOERR, "cannot encode the key file %s", path);
	*ret_bio = TAKE_PTR(bio);
	return 0;
}

int tp_keyfile_write(const char *path, const struct tpm_blob *blob, bool empty_auth, struct tp_error *err)
{
	_cleanup_free_ char *dir = NULL, *base = NULL;
	_cleanup_bio_ BIO *bio = NULL;
	char *data;
	long len;

	if (encode(blob, empty_auth, &bio, path, err) < 0 || tp_path_split(path, &dir, &base, err) < 0 ||
	    tp_mkdir_safe(dir, err) < 0)
		return -1;
	len = BIO_get_mem_data(bio, &data);
	return tp_write_file_atomic(dir, base, data, (size_t)len, 0600, (uid_t)-1, (gid_t)-1, err);
}

/* The DER of the file's one "TSS2 PRIVATE KEY" PEM block. */
static int read_der(const char *path, unsigned char **ret_der, long *ret_len, struct tp_error *err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_(openssl_freep) char *name = NULL;
	_cleanup_(openssl_freep) char *header = NULL;
	_cleanup_bio_ BIO *bio = NULL;
	size_t len;
	int r;

	r = tp_read_file(path, KEYFILE_MAX, &buf, &len, err);
	if (r != 0)
		return r;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio || !PEM_read_bio(bio, &name, &header, ret_der, ret_len) || strcmp(name, KEYFILE_PEM_NAME) != 0)
		return tp_error_ossl(err, EX_CONFIG, "%s is not a \"" KEYFILE_PEM_NAME "\" PEM file", path);
	return 0;
}

static int check_key(const TP_TSSPRIVKEY *k, const char *path, struct tpm_blob *blob, struct tp_error *err)
{
	uint64_t parent;
	char oid[64];

	if (!k || OBJ_obj2txt(oid, sizeof(oid), k->type, 1) <= 0 || strcmp(oid, OID_LOADABLE_KEY) != 0 ||
	    !ASN1_INTEGER_get_uint64(&parent, k->parent))
		return tp_error_ossl(err, EX_CONFIG, "%s is not a loadable TPM key file", path);
	if (parent != TPM_SRK_HANDLE)
		return tp_error_set(err, EX_CONFIG,
				    "%s: the key's parent is 0x%llx, not the storage root key at 0x%08x", path,
				    (unsigned long long)parent, TPM_SRK_HANDLE);
	if ((size_t)k->pubkey->length > sizeof(blob->pub) || (size_t)k->privkey->length > sizeof(blob->priv))
		return tp_error_set(err, EX_CONFIG, "%s: the key's parts are too large", path);
	memcpy(blob->pub, k->pubkey->data, (size_t)k->pubkey->length);
	blob->pub_len = (size_t)k->pubkey->length;
	memcpy(blob->priv, k->privkey->data, (size_t)k->privkey->length);
	blob->priv_len = (size_t)k->privkey->length;
	return 0;
}

int tp_keyfile_read(const char *path, struct tpm_blob *ret_blob, struct tp_error *err)
{
	_cleanup_(openssl_freep) unsigned char *der = NULL;
	_cleanup_(TP_TSSPRIVKEY_freep) TP_TSSPRIVKEY *k = NULL;
	struct tpm_blob blob = { 0 };
	const unsigned char *p;
	long der_len;
	int r;

	r = read_der(path, &der, &der_len, err);
	if (r != 0)
		return r;
	p = der;
	k = d2i_TP_TSSPRIVKEY(NULL, &p, der_len);
	r = check_key(k, path, &blob, err);
	if (r == 0)
		*ret_blob = blob;
	explicit_bzero(&blob, sizeof(blob));
	return r;
}
