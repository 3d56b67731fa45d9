/*
 * conf: the one INI file (/etc/sapb1fs/sapb1fs.conf) every program reads.
 *
 * Owns parsing (through libinih), ${NAME} expansion from the environment
 * and from [global] env_file, defaults, and checking values.  Problems go
 * into a struct diag as "FILE:LINE: message"; nothing here logs.  The
 * result is immutable once loaded and shared read-only between threads.
 */
#ifndef SAPB1_CONF_H
#define SAPB1_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "render.h"
#include "util.h"

struct conf_source {
	char *name;	  /* from "[source NAME]" */
	char *driver;	  /* odbc | postgres | servicelayer */
	char *connection; /* odbc: the connection string */
	char *conninfo;	  /* postgres: the libpq conninfo */
	char *url;	  /* servicelayer: .../b1s/v1 or /b1s/v2 */
	char *company;	  /* servicelayer: CompanyDB */
	char *user;
	char *password;		/* secret: never logged or shown */
	int timeout;		/* seconds for connect + query, default 60 */
	int max_connections;	/* connections kept open, default 4 */
	bool queries;		/* query folders allowed */
	char *queries_group;	/* group that may write them */
	long queries_row_limit; /* default 100000 */
	int page_size;		/* servicelayer, default 1000 */
	char *ca_file;		/* servicelayer */
	bool verify_tls;	/* servicelayer, default yes */
	int line;		/* where the section starts */
};

struct conf_share {
	char *name; /* from "[share NAME]" */
	char *url;  /* smb://host[:port]/share[/path] */
	char *user; /* empty: guest */
	char *password;
	char *domain;	   /* also accepted as "workgroup" */
	int timeout;	   /* seconds, default 20 */
	int dir_cache_ttl; /* seconds, default 10 */
	int line;
};

struct conf {
	char *path;

	/* [global] */
	char *env_file;
	char *reports_dir; /* default CONF_REPORTS_DIR (config.h) */
	char *state_dir;   /* default /var/lib/sapb1fs */
	char *timezone;	   /* IANA name, default: the system's */
	enum csv_dialect csv_dialect;
	bool tr_numbers; /* number_locale = tr_TR (default) */
	int log_level;	 /* LOG_* priority, default LOG_INFO */

	/* [mount] */
	char *mount_path;    /* default /mnt/sapb1 */
	char *cache_dir;     /* default /var/cache/sapb1fs */
	uint64_t cache_size; /* bytes, default 2G */
	int default_ttl;     /* seconds, default 300 */
	int max_threads;     /* FUSE worker threads, default 32 */
	int max_runs;	     /* report runs at once, default 8 */

	struct conf_source *sources;
	size_t nsources;
	struct conf_share *shares;
	size_t nshares;

	/* [redis]: redis_url NULL when the section is absent */
	char *redis_url;
	char *redis_password;
	int redis_timeout;	   /* milliseconds, default 500 */
	uint64_t redis_max_object; /* bytes, default 64M */

	/* [smtp]: smtp_url NULL when the section is absent */
	char *smtp_url;
	char *smtp_user;
	char *smtp_password;
	char *smtp_from;
	char *smtp_admin;
	char *smtp_ca_file;
	bool smtp_tls; /* default yes; no only for a local relay */

	/* [spool] */
	char *spool_dir; /* default /var/spool/sapb1fs */

	/* [mailer] */
	int retry_first;   /* seconds, default 60 */
	int retry_max;	   /* seconds, default 3600 */
	int max_age;	   /* seconds, default 432000 */
	uint64_t max_size; /* bytes of one message, default 25M */

	/* [scheduler] */
	int history_keep; /* default 30 */
	int catch_up;	  /* seconds, default 86400 */
	int retry;	  /* runs retried after a failure, default 2 */
};

/*
 * Loads @path.  Returns 0 and sets *out when the file has no error
 * (warnings may be in @d); returns -1 with the problems in @d otherwise,
 * and *out is NULL.  An unreadable file or env_file, or an env_file that
 * group or others can read, is an error naming that file.
 */
int conf_load(const char *path, struct conf **out, struct diag *d);
void conf_free(struct conf *c);

const struct conf_source *conf_source_find(const struct conf *c,
					   const char *name);
const struct conf_share *conf_share_find(const struct conf *c,
					 const char *name);

/* "2G", "512M", "100k", "12345": bytes, or -1 when malformed. */
int64_t conf_parse_size(const char *s);

/* "90", "90s", "10m", "2h", "1d": seconds, or -1 when malformed. */
int64_t conf_parse_duration(const char *s);

#endif
