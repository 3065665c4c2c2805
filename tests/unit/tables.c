/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the tables of domain facts (the key algorithms, the agents)
 * and their lookups, which refuse an unknown value instead of defaulting. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "src/cli/options.h"
#include "src/cmd/commands.h"
#include "src/device/agentfiles.h"
#include "src/store/keyjournal.h"
#include "src/x509/pkey.h"
#include "tests/unit/tap.h"

/* Every row is found by its name, and says what the rest reads. */
static void test_key_alg_rows(void)
{
	const struct tpm_key_alg_info *a;
	int i, found;

	for (i = 0; (a = tpm_key_alg_info(i)); i++) {
		found = tpm_key_alg_parse(a->name);
		tap_ok(found == i && strcmp(tpm_key_alg_name(i), a->name) == 0, "%s: found by its name", a->name);
		tap_ok(a->bits > 0 && a->csr_digest && (a->type == TPM_KEY_ECC) == (a->curve != NULL) &&
			       tpm_key_alg_is_rsa(i) == (a->type == TPM_KEY_RSA),
		       "%s: a size, a CSR digest, a curve exactly when ECC", a->name);
	}
	tap_ok(i == TPM_ALG__COUNT, "a row for each enum tpm_key_alg value (%d)", i);
	tap_ok(tpm_key_alg_info(TP_DEFAULT_KEY_ALG) != NULL, "the default is a row");
	tap_str(tpm_key_alg_info(TPM_ALG_ECC_P384)->csr_digest, "SHA384", "ecc-p384's CSR is signed with SHA-384");
	tap_str(tpm_key_alg_info(TPM_ALG_RSA_3072)->csr_digest, "SHA256", "rsa-3072's CSR is signed with SHA-256");
	tap_ok(tpm_key_alg_info(TPM_ALG_RSA_3072)->bits == 3072, "rsa-3072 is 3072 bits");
}

/* An unknown name, or a value past the table, is refused, never taken for
 * one of the table's. */
static void test_key_alg_unknown(void)
{
	static const char *const unknown[] = { "rsa-1024", "ecc-p521", "", "ECC-P256", "ecc-p256 ", "rsa" };
	struct tp_keyjournal j = { 0 };
	struct tp_error err = { 0 };
	const char *json = "{\"phase\": \"key-created\", \"key-handle\": \"0x81000002\", \"key-alg\": \"ecc-p521\", "
			   "\"key-name\": \"000b\"}";
	size_t i;

	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		tap_ok(tpm_key_alg_parse(unknown[i]) == -1, "\"%s\" is no key algorithm", unknown[i]);
	tap_ok(tpm_key_alg_parse(NULL) == -1, "nor is NULL");
	tap_ok(!tpm_key_alg_info(TPM_ALG__COUNT) && !tpm_key_alg_info(-1) && !tpm_key_alg_name(TPM_ALG__COUNT) &&
		       !tpm_key_alg_is_rsa(TPM_ALG__COUNT),
	       "a value past the table has no row");
	tap_ok(tp_keyjournal_parse(json, strlen(json), "journal.json", &j, &err) < 0 && err.exit_code == EX_DATAERR &&
		       strstr(err.msg, "unknown \"key-alg\" \"ecc-p521\""),
	       "journal.json with an unknown key-alg is refused: %s", err.msg);
	tp_keyjournal_free(&j);
}

static EVP_PKEY *generate(const char *type, const char *curve, unsigned bits)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	if (ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
	    (curve ? EVP_PKEY_CTX_set_group_name(ctx, curve) : EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits)) > 0)
		EVP_PKEY_keygen(ctx, &key);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* An ECC key as tpm_read_key describes it, for tp_pkey_from_tpm. */
static int ecc_public(EVP_PKEY *key, int alg, struct tpm_public *ret)
{
	unsigned char point[1 + sizeof(ret->x) + sizeof(ret->y)];
	size_t len = 0, half;

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len) != 1 || len < 3 ||
	    point[0] != 0x04)
		return -1;
	half = (len - 1) / 2;
	*ret = (struct tpm_public){ .type = TPM_KEY_ECC, .alg = alg, .bits = tpm_key_alg_info(alg)->bits };
	memcpy(ret->x, point + 1, half);
	memcpy(ret->y, point + 1 + half, half);
	ret->x_len = ret->y_len = half;
	return 0;
}

/* OpenSSL's keys are mapped to the table's rows, and back. */
static void test_key_alg_openssl(void)
{
	static const struct {
		const char *type, *curve;
		unsigned bits;
		int alg;
	} cases[] = {
		{ "EC", "P-256", 0, TPM_ALG_ECC_P256 },
		{ "EC", "prime256v1", 0, TPM_ALG_ECC_P256 },
		{ "EC", "secp384r1", 0, TPM_ALG_ECC_P384 },
		{ "EC", "P-521", 0, -1 },
		{ "EC", "brainpoolP256r1", 0, -1 },
		{ "RSA", NULL, 2048, TPM_ALG_RSA_2048 },
		{ "RSA", NULL, 1024, -1 },
	};
	struct tp_error err = { 0 };
	struct tpm_public pub;
	EVP_PKEY *key, *back;
	char what[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		key = generate(cases[i].type, cases[i].curve, cases[i].bits);
		if (cases[i].curve)
			snprintf(what, sizeof(what), "%s %s", cases[i].type, cases[i].curve);
		else
			snprintf(what, sizeof(what), "%s %u", cases[i].type, cases[i].bits);
		tap_ok(key && tp_pkey_key_alg(key) == cases[i].alg, "%s: %s", what,
		       cases[i].alg >= 0 ? tpm_key_alg_name(cases[i].alg) : "none of the table's");
		if (key && cases[i].curve && cases[i].alg >= 0) {
			back = NULL;
			tap_ok(ecc_public(key, cases[i].alg, &pub) == 0 && tp_pkey_from_tpm(&pub, &back, &err) == 0 &&
				       EVP_PKEY_eq(key, back) == 1,
			       "%s: the TPM's point is read on the row's curve", cases[i].curve);
			EVP_PKEY_free(back);
		}
		EVP_PKEY_free(key);
	}
}

static void test_agents(void)
{
	const struct tp_agent_info *a;
	unsigned all = 0;
	char *names;
	size_t i;

	for (i = 0; (a = tp_agent_info(i)); i++) {
		tap_ok(tp_agent_lookup(a->name) == a && a->bit && !(all & a->bit),
		       "%s: found by its name, a bit of its own", a->name);
		all |= a->bit;
	}
	tap_ok(i == 4, "four agents");
	tap_ok(!tp_agent_lookup("mosquitto") && !tp_agent_lookup("") && !tp_agent_lookup("ENV") &&
		       !tp_agent_lookup(NULL),
	       "an unknown agent is none");
	tap_ok(tp_agents_token(all) == (TP_AGENT_DEVICE_CLIENT | TP_AGENT_PKCS11),
	       "the device client and pkcs11 use the token");
	tap_ok(tp_agents_env(all) == (TP_AGENT_ENV | TP_AGENT_PKCS11), "env and pkcs11 get agent.env");
	tap_ok(tp_agents_token(TP_AGENT_ENV | TP_AGENT_OPENSSL) == 0, "env and openssl do not use the token");
	tap_str(tp_agent_lookup("openssl")->file, TP_OPENSSL_CNF_FILE, "openssl gets openssl.cnf");
	names = tp_agent_names(~0u, ", ");
	tap_str(names, "aws-iot-device-client, env, openssl, pkcs11", "the names, in the table's order");
	free(names);
	names = tp_agent_names(tp_agents_token(~0u), " or ");
	tap_str(names, "aws-iot-device-client or pkcs11", "the names of the token's agents");
	free(names);
}

/* --help's lines for --key-alg and --agent are made from the tables. */
static void test_help(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const struct tp_agent_info *a;
	int i;

	if (!f)
		return;
	tp_options_usage(f, tp_command_find("enroll"));
	fclose(f);
	tap_ok(strstr(text, "--key-alg ALG") && strstr(text, "ecc-p256 (default), ecc-p384, rsa-2048, rsa-3072\n"),
	       "--key-alg's help lists the algorithms, the default marked");
	for (i = 0; i < TPM_ALG__COUNT; i++)
		tap_ok(strstr(text, tpm_key_alg_name(i)) != NULL, "--help names %s", tpm_key_alg_name(i));
	for (i = 0; (a = tp_agent_info((size_t)i)); i++)
		tap_ok(strstr(text, a->name) != NULL, "--help names the agent %s", a->name);
	tap_ok(strstr(text, "configure aws-iot-device-client, env, openssl, pkcs11 (repeatable)\n") != NULL,
	       "--agent's help lists the agents");
	free(text);
}

int main(void)
{
	test_key_alg_rows();
	test_key_alg_unknown();
	test_key_alg_openssl();
	test_agents();
	test_help();
	return tap_done();
}
