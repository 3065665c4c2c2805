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

/* 1 when state.json records a provisioning that the TPM key and the
 * installed certificate agree with (*ret_state filled), 0 when there is no
 * state.json, -1 when the record and the device disagree. */
int tp_check_provisioned(const struct tp_options *o, const struct tp_devkey *k,
			 struct tp_state *ret_state, struct tp_error *err);

/* Say so on stdout: the device is already provisioned. */
void tp_print_already_provisioned(const struct tp_state *state, const struct tp_devkey *k,
				  const char *dir);

/* Why: a device without an RTC boots in 1970 and TLS then fails with
 * "certificate not yet valid".  Wait, up to deadline seconds, for the clock
 * to pass this program's build time; EX_TEMPFAIL if it does not. */
int tp_wait_for_clock(unsigned deadline, struct tp_error *err);

/* Create the output directory if needed and lock it, waiting for another
 * run at most the deadline. */
int tp_lock_out_dir(const struct tp_options *o, int *ret_fd, struct tp_error *err);

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
