/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The cheapest client of the certificate service there is, to measure its
 * ceiling: the request bodies (JSON files named on the command line) sent
 * with libcurl's multi interface, 10 in flight, SigV4-signed, answers
 * thrown away unchecked.  Not part of tpm-provision: tests/bench/bench.sh
 * builds it with cc.
 *
 *   ceiling URL CA-FILE REGION BODY.json...   (credentials from the
 *   environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define IN_FLIGHT 10

static size_t discard(char *data, size_t size, size_t nmemb, void *user)
{
	(void)data;
	(void)user;
	return size * nmemb;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(65536);
	size_t n;

	if (!f || !buf)
		exit(1);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void add(CURLM *multi, char **argv, const char *path, struct curl_slist *headers, char *userpwd)
{
	CURL *c = curl_easy_init();
	char *body = slurp(path), sigv4[64];

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:iot", argv[3]);
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
	free(body);
	curl_multi_add_handle(multi, c);
}

int main(int argc, char **argv)
{
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	CURLM *multi = curl_multi_init();
	int next = 4, running = 1, left, failed = 0;
	char userpwd[256];
	CURLMsg *msg;
	long status;

	snprintf(userpwd, sizeof(userpwd), "%s:%s", getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"));
	while (next < argc && next - 4 < IN_FLIGHT)
		add(multi, argv, argv[next++], headers, userpwd);
	while (running) {
		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left))) {
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			failed += msg->data.result != CURLE_OK || status != 200;
			curl_multi_remove_handle(multi, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			if (next < argc) {
				add(multi, argv, argv[next++], headers, userpwd);
				running = 1;
			}
		}
		if (running)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
	fprintf(stderr, "%d of %d failed\n", failed, argc - 4);
	return failed != 0;
}
