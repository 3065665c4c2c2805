/* The device key algorithms AWS IoT accepts for CreateCertificateFromCsr. */
#ifndef TP_KEYALG_H
#define TP_KEYALG_H

enum tp_key_alg {
	TP_ALG_ECC_P256 = 0,   /* the default */
	TP_ALG_ECC_P384,
	TP_ALG_RSA_2048,
	TP_ALG_RSA_3072,
	TP_ALG__COUNT
};

/* "ecc-p256" ... "rsa-3072"; -1 for anything else. */
int tp_key_alg_parse(const char *s);
const char *tp_key_alg_name(enum tp_key_alg alg);

/* The CSR signature hash that goes with the key: "SHA384" for P-384,
 * "SHA256" otherwise. */
const char *tp_key_alg_digest(enum tp_key_alg alg);

int tp_key_alg_is_rsa(enum tp_key_alg alg);

#endif
