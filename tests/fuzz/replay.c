/*
 * replay: the main() of a fuzz target built without libFuzzer.  Runs the
 * target over each file named, or each file of each folder named (the
 * corpus), in name order, so `meson test --suite fuzz` replays every
 * kept input under gcc and under the sanitizer build.  Exits 77 (skip)
 * when there is no input at all.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Weak: a target without an initializer leaves it NULL. */
#pragma weak LLVMFuzzerInitialize

static int replay_file(const char *path)
{
	char *data;
	size_t len;
	int rc = file_read_all(path, &data, &len);

	if (rc < 0) {
		fprintf(stderr, "replay: cannot read %s: %s\n", path,
			strerror(-rc));
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	return 0;
}

static int replay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of @dir; the count, or -1. */
static int replay_dir(const char *dir)
{
	struct strbuf path = STRBUF_INIT;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int count = 0;
	DIR *d = opendir(dir);

	if (!d) {
		perror(dir);
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (!names || !(names[n] = xstrdup(e->d_name)))
			abort();
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), replay_name_cmp);
	for (size_t i = 0; i < n; i++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, names[i]);
		if (replay_file(path.buf) < 0)
			count = -1;
		else if (count >= 0)
			count++;
		free(names[i]);
	}
	free(names);
	strbuf_release(&path);
	return count;
}

int main(int argc, char **argv)
{
	struct stat st;
	int total = 0, rc;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode))
			rc = replay_dir(argv[i]);
		else
			rc = replay_file(argv[i]) == 0 ? 1 : -1;
		if (rc < 0)
			return 1;
		total += rc;
	}
	printf("replayed %d inputs\n", total);
	return total ? 0 : 77;
}
