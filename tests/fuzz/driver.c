/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A stand-in for libFuzzer's main, so each harness also runs in make check:
 * the files named on the command line, or else the regression inputs of
 * the harness (tests/fuzz/regress/NAME/ under $top_srcdir: inputs that once
 * crashed it), then mutations of a seed made by a fixed pseudo-random
 * sequence (repeatable).  Prints TAP.  With clang, `make fuzz` builds the
 * same harnesses against libFuzzer instead.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern const char *const fuzz_seeds[];
extern int fuzz_accepted;

static uint32_t prng_state = 2463534242u;

static uint32_t prng(void)
{
	prng_state ^= prng_state << 13;
	prng_state ^= prng_state >> 17;
	prng_state ^= prng_state << 5;
	return prng_state;
}

/* Run the harness on a copy of the len bytes at data, in a buffer of
 * exactly that size (as libFuzzer does), so that a sanitizer build catches
 * a read past the end. */
static void run(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		abort();
	memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

/* Run the harness on the whole content of the file at path. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL, *bigger;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -1;
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			if (!(bigger = realloc(data, cap)))
				break;
			data = bigger;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	if (!data)
		return -1;
	run(data, len);
	free(data);
	return 0;
}

/* Run the files in tests/fuzz/regress/NAME/, NAME the harness's: their
 * number, or -1 when one cannot be read. */
static int run_regressions(const char *argv0)
{
	const char *top = getenv("top_srcdir"), *name = strrchr(argv0, '/');
	char dir[4096], path[8192];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regress/%s", top && *top ? top : ".", name ? name + 1 : argv0);
	if (!(d = opendir(dir)))
		return 0;
	while (n >= 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = run_file(path) < 0 ? -1 : n + 1;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	static const char alphabet[] = "{}[]\",:0123456789.-+eE truefalsnul\\/\n[]=#;xX";
	uint8_t buf[4096];
	size_t i, n, len, rounds = 0;
	int a, replayed = 0;

	for (a = 1; a < argc; a++, replayed++) {
		if (run_file(argv[a]) < 0) {
			printf("not ok 1 - cannot read %s\n", argv[a]);
			return 1;
		}
	}
	if (argc == 1)
		replayed = run_regressions(argv[0]);
	size_t rejected = 0, seeds_refused = 0;

	for (i = 0; fuzz_seeds[i]; i++) {
		run((const uint8_t *)fuzz_seeds[i], strlen(fuzz_seeds[i]));
		seeds_refused += !fuzz_accepted;
		for (n = 0; n < 2000; n++) {
			len = strlen(fuzz_seeds[i]);
			memcpy(buf, fuzz_seeds[i], len);
			/* A few random edits: replace, truncate or extend. */
			for (a = (int)(prng() % 4); a >= 0; a--) {
				size_t at = len ? prng() % len : 0;
				switch (prng() % 3) {
				case 0:
					if (len)
						buf[at] = (uint8_t)alphabet[prng() % (sizeof(alphabet) - 1)];
					break;
				case 1:
					len = at;
					break;
				default:
					if (len < sizeof(buf))
						buf[len++] = (uint8_t)(prng() & 0xff);
				}
			}
			run(buf, len);
			rejected += !fuzz_accepted;
			rounds++;
		}
	}
	/* The harness drives the parser: the seeds are accepted, and the
	 * mutations reach its error paths as well as its success. */
	printf("%sok 1 - all %zu seeds are accepted by the parser\n", seeds_refused ? "not " : "", i);
	printf("%sok 2 - %zu mutated inputs ran without a crash, %zu of them refused\n",
	       rejected > 0 && rejected < rounds ? "" : "not ", rounds, rejected);
	/* Reached only when none of them crashed. */
	if (replayed < 0)
		printf("not ok 3 - a regression input cannot be read\n1..3\n");
	else
		printf("ok 3 - %d regression inputs ran without a crash\n1..3\n", replayed);
	return seeds_refused || rejected == 0 || rejected == rounds || replayed < 0;
}
