/*
 * A stand-in for libFuzzer's main, so each harness also runs in make check:
 * the files named on the command line, then mutations of a seed made by a
 * fixed pseudo-random sequence (repeatable).  Prints TAP.  With clang,
 * `make fuzz` builds the same harnesses against libFuzzer instead.
 */
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

int main(int argc, char **argv)
{
	static const char alphabet[] = "{}[]\",:0123456789.-+eE truefalsnul\\/\n[]=#;xX";
	uint8_t buf[4096];
	size_t i, n, len, rounds = 0;
	int a;

	for (a = 1; a < argc; a++) {
		FILE *f = fopen(argv[a], "rb");

		if (!f) {
			printf("not ok 1 - cannot open %s\n", argv[a]);
			return 1;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
	}
	size_t rejected = 0, seeds_refused = 0;

	for (i = 0; fuzz_seeds[i]; i++) {
		LLVMFuzzerTestOneInput((const uint8_t *)fuzz_seeds[i], strlen(fuzz_seeds[i]));
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
			LLVMFuzzerTestOneInput(buf, len);
			rejected += !fuzz_accepted;
			rounds++;
		}
	}
	/* The harness drives the parser: the seeds are accepted, and the
	 * mutations reach its error paths as well as its success. */
	printf("%sok 1 - all %zu seeds are accepted by the parser\n", seeds_refused ? "not " : "", i);
	printf("%sok 2 - %zu mutated inputs ran without a crash, %zu of them refused\n1..2\n",
	       rejected > 0 && rejected < rounds ? "" : "not ", rounds, rejected);
	return seeds_refused || rejected == 0 || rejected == rounds;
}
