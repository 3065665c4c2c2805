#include "install.h"

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ossl.h"

int tp_install(const char *dir, X509 *cert, const struct tp_state *state, struct tp_error *err)
{
	char *pem = NULL, *json = NULL;
	int r = -1;

	/* Re-encode what was checked, so the file holds exactly that. */
	if (tp_x509_to_pem(cert, &pem, err) < 0 || tp_state_format(state, &json, err) < 0)
		goto out;
	if (tp_write_file_atomic(dir, TP_CERT_FILE, pem, strlen(pem), 0644, err) < 0 ||
	    tp_write_file_atomic(dir, TP_STATE_FILE, json, strlen(json), 0644, err) < 0)
		goto out;
	r = 0;
out:
	free(pem);
	free(json);
	return r;
}
