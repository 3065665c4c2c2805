/* What the subcommands share: the device key's description, the
 * provisioned check, the service set-up and the final install. */
#ifndef TP_COMMON_H
#define TP_COMMON_H

#include <stddef.h>

#include <openssl/x509.h>

#include "creds.h"
#include "devkey.h"
#include "err.h"
#include "options.h"
#include "service.h"
#include "state.h"
#include "tpm/tpm.h"

/* The device key the options describe; auth is the caller's. */
void tp_devkey_from_options(const struct tp_options *o, const struct tp_tpm_auth *auth,
			    struct tp_devkey *ret_key);

/*
 * The start every run shares: wait for the clock, lock the output
 * directory (*ret_lock, closed by the caller), and leave a provisioned
 * device alone: 1 when state.json records a provisioning that the TPM key
 * and the installed certificate agree with (said on stdout), 0 to go on,
 * -1 when the record and the device disagree or a check failed.
 */
int tp_begin_run(const struct tp_options *o, const struct tp_devkey *k, int *ret_lock,
		 struct tp_error *err);

/* Test hook: when $TPM_PROVISION_TEST_CRASH_AT names this step, die with
 * SIGKILL right here, as a power loss would stop the run. */
void tp_test_crash_point(const char *step);

/* The service client's settings from the options. */
void tp_service_setup(const struct tp_options *o, const struct tp_creds *creds,
		      struct tp_service *ret_svc);

/* Install cert (already checked against pub), what the agents need (the
 * data endpoint from --iot-endpoint or DescribeEndpoint) and the state
 * recording it. */
int tp_install_provisioned(const struct tp_options *o, const struct tp_service *svc,
			   const struct tp_devkey *k, X509 *cert,
			   const struct tp_tpm_public *pub, const char *arn,
			   const char *id, struct tp_error *err);

#endif
