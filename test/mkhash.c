/*
 * mkhash: prints a crypt(3) hash of PASSWORD made with a fresh random salt
 * of the method PREFIX ("$y$", "$6$", "$5$", "$2b$"), at the method's
 * default cost or at COUNT (crypt_gensalt(3)'s count: rounds for "$5$"),
 * for the tests that need real account hashes without chpasswd.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *hash;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: mkhash PREFIX PASSWORD [COUNT]\n");
		return 64;
	}
	if (crypt_gensalt_rn(argv[1],
		argc == 4 ? strtoul(argv[3], NULL, 10) : 0, NULL, 0, salt,
		sizeof(salt)) == NULL) {
		perror("mkhash: crypt_gensalt_rn");
		return 1;
	}
	memset(&cd, 0, sizeof(cd));
	hash = crypt_rn(argv[2], salt, &cd, sizeof(cd));
	if (hash == NULL || hash[0] == '*') {
		fprintf(stderr, "mkhash: crypt_rn failed for %s\n", argv[1]);
		return 1;
	}
	puts(hash);
	return 0;
}
