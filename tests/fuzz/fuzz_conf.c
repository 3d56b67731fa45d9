/*
 * fuzz_conf: conf_load() over any text, with ${NAME} taken from the
 * environment and from an env_file.  The input is the config; after a
 * NUL byte (which no config may hold), the rest is the env_file's text,
 * written as fuzz.env beside the config with mode 0600 and a known
 * secret added on its last line.
 *
 * Checks: a config or a list of problems, never both; every problem
 * names the file (the env_file as written when its name uses ${}) and
 * fits on one line; no secret of the environment or
 * of the env_file reaches a message unless the config itself quotes it;
 * a loaded config has valid, distinct section names, a known driver for
 * each source and absolute paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "report.h"

#define FUZZ_ENV_SECRET "Env-S3cret-Q7"
#define FUZZ_FILE_SECRET "File-S3cret-K2"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("FUZZ_SECRET", FUZZ_ENV_SECRET, 1);
	return 0;
}

static void check_paths(const struct conf *c)
{
	const char *paths[] = {c->reports_dir, c->state_dir, c->mount_path,
			       c->cache_dir, c->spool_dir};

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		FUZZ_CHECK(paths[i] && paths[i][0] == '/',
			   "path %zu is not absolute: '%s'", i,
			   paths[i] ? paths[i] : "(null)");
}

static void check_conf(const struct conf *c)
{
	static const char *const drivers[] = {"odbc", "postgres",
					      "servicelayer"};

	check_paths(c);
	for (size_t i = 0; i < c->nsources; i++) {
		const struct conf_source *s = &c->sources[i];
		bool known = false;

		FUZZ_CHECK(report_name_valid(s->name), "source name '%s'",
			   s->name);
		FUZZ_CHECK(conf_source_find(c, s->name) == s,
			   "source '%s' twice", s->name);
		for (size_t k = 0; k < ARRAY_SIZE(drivers); k++)
			known |= s->driver && !strcmp(s->driver, drivers[k]);
		FUZZ_CHECK(known, "source '%s' has driver '%s'", s->name,
			   s->driver ? s->driver : "(null)");
		FUZZ_CHECK(s->timeout > 0, "source timeout %d", s->timeout);
	}
	for (size_t i = 0; i < c->nshares; i++) {
		const struct conf_share *s = &c->shares[i];

		FUZZ_CHECK(report_name_valid(s->name), "share name '%s'",
			   s->name);
		FUZZ_CHECK(conf_share_find(c, s->name) == s, "share '%s' twice",
			   s->name);
		FUZZ_CHECK(s->url && !strncasecmp(s->url, "smb://", 6),
			   "share url '%s'", s->url ? s->url : "(null)");
	}
	FUZZ_CHECK(c->retry_first <= c->retry_max, "retry_first > retry_max");
}

static void check_diag(const struct diag *d, const char *path,
		       const char *conf_text)
{
	char env[512];
	bool env_quoted = strstr(conf_text, FUZZ_ENV_SECRET) != NULL;
	bool file_quoted = strstr(conf_text, FUZZ_FILE_SECRET) != NULL;

	snprintf(env, sizeof(env), "%s", fuzz_path("fuzz.env"));
	for (size_t i = 0; i < d->n; i++) {
		const char *m = d->msgs[i];

		FUZZ_CHECK(!strncmp(m, path, strlen(path)) ||
			       !strncmp(m, env, strlen(env)) ||
			       !strncmp(m, "${", 2),
			   "message names no file: %s", m);
		FUZZ_CHECK(!strchr(m, '\n'), "message of two lines: %s", m);
		FUZZ_CHECK(env_quoted || !strstr(m, FUZZ_ENV_SECRET),
			   "environment secret in a message: %s", m);
		FUZZ_CHECK(file_quoted || !strstr(m, FUZZ_FILE_SECRET),
			   "env_file secret in a message: %s", m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t clen = nul ? (size_t)(nul - data) : size;
	char *conf_text = fuzz_strndup(data, clen);
	struct strbuf env = STRBUF_INIT;
	struct diag d = {0};
	struct conf *c = NULL;
	char path[512];
	int rc;

	snprintf(path, sizeof(path), "%s", fuzz_path("fuzz.conf"));
	fuzz_write("fuzz.conf", data, clen, 0644);
	if (nul) {
		strbuf_add(&env, nul + 1, size - clen - 1);
		strbuf_adds(&env, "\nFUZZ_FILE_PW=" FUZZ_FILE_SECRET "\n");
		fuzz_write("fuzz.env", env.buf, env.len, 0600);
	} else {
		unlink(fuzz_path("fuzz.env"));
	}
	rc = conf_load(path, &c, &d);
	FUZZ_CHECK(rc == 0 || rc == -1, "conf_load returned %d", rc);
	FUZZ_CHECK((rc == 0) == (c != NULL), "rc %d with conf %p", rc,
		   (void *)c);
	FUZZ_CHECK(rc == 0 || d.errors > 0, "failed with no error");
	check_diag(&d, path, conf_text);
	if (c)
		check_conf(c);
	conf_free(c);
	diag_free(&d);
	strbuf_release(&env);
	free(conf_text);
	return 0;
}
