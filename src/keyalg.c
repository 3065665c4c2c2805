#include "keyalg.h"

#include <string.h>

static const char *const names[TP_ALG__COUNT] = {
	[TP_ALG_ECC_P256] = "ecc-p256",
	[TP_ALG_ECC_P384] = "ecc-p384",
	[TP_ALG_RSA_2048] = "rsa-2048",
	[TP_ALG_RSA_3072] = "rsa-3072",
};

int tp_key_alg_parse(const char *s)
{
	int i;

	for (i = 0; s && i < TP_ALG__COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const char *tp_key_alg_name(enum tp_key_alg alg)
{
	return alg < TP_ALG__COUNT ? names[alg] : "unknown";
}

const char *tp_key_alg_digest(enum tp_key_alg alg)
{
	return alg == TP_ALG_ECC_P384 ? "SHA384" : "SHA256";
}

int tp_key_alg_is_rsa(enum tp_key_alg alg)
{
	return alg == TP_ALG_RSA_2048 || alg == TP_ALG_RSA_3072;
}
