/*
 * snap: see snap.h.
 *
 * How snapshots replace each other: a run writes every format into a
 * new folder cache_dir/<key>/<gen>/, then, under the lock, becomes the
 * instance's current snapshot; the previous folder is removed at once.
 * Open handles hold file descriptors, so a reader keeps its snapshot's
 * bytes after the files are gone.  A "current" file in cache_dir/<key>/
 * (written atomically after the run) lets the next mount adopt it.
 *
 * The kernel page cache is shared by every handle of an inode, so two
 * snapshots of one file must never both be read through it: a handle
 * opened while handles of another snapshot are open reads direct
 * (FOPEN_DIRECT_IO), and the page cache is kept across opens only when
 * it holds the snapshot being opened.
 *
 * One lock guards every instance and snapshot; it is never held during
 * a run, a file operation on a snapshot, or a wait.
 */
#include "snap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "run.h"
#include "shared.h"
#include "source.h"

struct snap {
	int refs;
	uint64_t gen;
	time_t started;
	time_t done;
	unsigned formats;
	off_t size[FMT_COUNT];
	uint64_t bytes;
	uint64_t rows;
	uint64_t def_hash; /* of the definition it was made from */
	bool truncated;
	char *dir; /* NULL once its files are removed */
};

struct spec {
	int refs;
	char *label, *title, *source, *sql;
	bool odata;
	unsigned formats;
	int ttl;
	enum csv_dialect csv;
	long row_limit;
	struct drv_param *params;
	size_t nparams;
	uint64_t def_hash;
};

struct inst {
	struct inst *next; /* hash chain */
	char *key;
	char *dir; /* cache_dir/<hash>-<label> */
	struct spec *spec;
	struct snap *cur;
	bool stale;
	bool running;
	uint64_t touch_seq;
	int64_t touched_ms; /* wall clock of the last touch here (shared) */
	pthread_cond_t done;
	char *error;
	time_t error_time;
	int64_t used; /* monotonic ms of the last open, for eviction */
	off_t last_size[FMT_COUNT];
	time_t last_mtime;
	/* page cache bookkeeping per format, see the top comment */
	uint64_t pc_gen[FMT_COUNT];
	int pc_open[FMT_COUNT];
	uint64_t cached_gen[FMT_COUNT];
	off_t pc_size[FMT_COUNT];      /* size of pc_gen's file */
	uint64_t attrs_gen[FMT_COUNT]; /* kernel's attributes dropped for */
	uint64_t runs, failures;
	int64_t last_ms;
	uint64_t last_rows;
};

#define NBUCKETS 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct inst *buckets[NBUCKETS];
static const struct conf *conf;
static uint64_t next_gen = 1;
static uint64_t cache_bytes;
static uint64_t stat_hits, stat_misses, stat_stale_served, stat_evicted;
static sem_t run_slots;
static int nrunning; /* run threads alive, under @lock */
static pthread_cond_t runs_done = PTHREAD_COND_INITIALIZER;
static struct run_job *ended; /* run threads to join, under @lock */

/* --- files ------------------------------------------------------------ */

static int rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	return rmdir(dir) < 0 ? -errno : 0;
}

static void snap_path(const struct snap *s, const struct spec *sp, int fmt,
		      char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.%s", s->dir, sp->label, render_fmt_ext(fmt));
}

static void snap_put_locked(struct snap *s)
{
	if (--s->refs > 0)
		return;
	free(s->dir);
	free(s);
}

static void spec_put(struct spec *sp)
{
	if (!sp || __atomic_sub_fetch(&sp->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < sp->nparams; i++) {
		free((char *)sp->params[i].name);
		free((char *)sp->params[i].value);
	}
	free(sp->params);
	free(sp->label);
	free(sp->title);
	free(sp->source);
	free(sp->sql);
	free(sp);
}

static struct spec *spec_copy(const struct inst_spec *in)
{
	struct spec *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return NULL;
	sp->refs = 1;
	sp->label = xstrdup(in->label);
	sp->title = xstrdup(in->title ? in->title : in->label);
	sp->source = xstrdup(in->source);
	sp->sql = xstrdup(in->sql);
	sp->odata = in->odata;
	sp->formats = in->formats;
	sp->ttl = in->ttl;
	sp->csv = in->csv;
	sp->row_limit = in->row_limit;
	sp->def_hash = in->def_hash;
	sp->params = calloc(in->nparams + 1, sizeof(*sp->params));
	if (!sp->label || !sp->title || !sp->source || !sp->sql || !sp->params)
		goto out_free;
	for (size_t i = 0; i < in->nparams; i++) {
		sp->params[i].name = xstrdup(in->params[i].name);
		sp->params[i].value = xstrdup(in->params[i].value);
		sp->nparams++;
		if (!sp->params[i].name ||
		    (in->params[i].value && !sp->params[i].value))
			goto out_free;
	}
	return sp;
out_free:
	spec_put(sp);
	return NULL;
}

/* Records @s as current in <inst dir>/current, for the next mount. */
static void meta_write(const struct inst *in, const struct spec *sp,
		       const struct snap *s)
{
	struct strbuf sb = STRBUF_INIT;
	char path[PATH_MAX];

	strbuf_addf(&sb,
		    "gen=%llu\nstarted=%lld\ndone=%lld\nhash=%llu\n"
		    "rows=%llu\nformats=%u\n",
		    (unsigned long long)s->gen, (long long)s->started,
		    (long long)s->done, (unsigned long long)sp->def_hash,
		    (unsigned long long)s->rows, s->formats);
	for (int f = 0; f < FMT_COUNT; f++)
		strbuf_addf(&sb, "size%d=%lld\n", f, (long long)s->size[f]);
	snprintf(path, sizeof(path), "%s/current", in->dir);
	if (sb.buf && file_write_atomic(path, sb.buf, sb.len, 0600) < 0)
		log_msg(LOG_WARNING, "cache",
			"cannot record snapshot of %s in %s; it will not "
			"survive a remount",
			in->key, path);
	strbuf_release(&sb);
}

static unsigned long long meta_get(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, n) && p[n] == '=')
			return strtoull(p + n + 1, NULL, 10);
	}
	return ~0ULL;
}

/* Adopts what a previous mount left, or clears it; under no lock. */
static struct snap *meta_adopt(const char *dir, const struct spec *sp)
{
	char path[PATH_MAX], keep[64];
	struct snap *s = NULL;
	char *text = NULL;
	struct stat st;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/current", dir);
	if (file_read_all(path, &text, NULL) < 0)
		goto out_clean;
	if (meta_get(text, "hash") != sp->def_hash)
		goto out_clean;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out_clean;
	s->refs = 1;
	s->gen = (uint64_t)meta_get(text, "gen");
	s->started = (time_t)meta_get(text, "started");
	s->done = (time_t)meta_get(text, "done");
	s->rows = (uint64_t)meta_get(text, "rows");
	s->formats = (unsigned)meta_get(text, "formats");
	s->def_hash = sp->def_hash;
	if (asprintf(&s->dir, "%s/%llu", dir, (unsigned long long)s->gen) < 0) {
		s->dir = NULL;
		goto out_bad;
	}
	for (int f = 0; f < FMT_COUNT; f++) {
		char key[16];

		snprintf(key, sizeof(key), "size%d", f);
		s->size[f] = (off_t)meta_get(text, key);
		if (!(s->formats & (1u << f)))
			continue;
		snap_path(s, sp, f, path, sizeof(path));
		if (stat(path, &st) < 0 || st.st_size != s->size[f])
			goto out_bad;
		s->bytes += (uint64_t)st.st_size;
	}
	if ((sp->formats & s->formats) != sp->formats)
		goto out_bad;
	goto out_clean;
out_bad:
	free(s->dir);
	free(s);
	s = NULL;
out_clean:
	free(text);
	/* Folders of other generations are leftovers of a crash. */
	snprintf(keep, sizeof(keep), "%llu",
		 s ? (unsigned long long)s->gen : 0ULL);
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
		    !strcmp(e->d_name, keep))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rm_tree(path);
	}
	if (d)
		closedir(d);
	if (!s) {
		snprintf(path, sizeof(path), "%s/current", dir);
		unlink(path);
	}
	return s;
}

/* --- instances -------------------------------------------------------- */

static struct inst **bucket_of(const char *key)
{
	return &buckets[hash64_str(key) % NBUCKETS];
}

struct inst *inst_lookup(const char *key)
{
	struct inst *in;

	pthread_mutex_lock(&lock);
	for (in = *bucket_of(key); in; in = in->next)
		if (!strcmp(in->key, key))
			break;
	pthread_mutex_unlock(&lock);
	return in;
}

static char *inst_dir(const char *key, const char *label)
{
	char safe[48];
	size_t i;
	char *dir;

	for (i = 0; label[i] && i < sizeof(safe) - 1; i++) {
		char c = label[i];

		safe[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '_'
			      ? c
			      : '_';
	}
	safe[i] = '\0';
	if (asprintf(&dir, "%s/%016llx-%s", conf->cache_dir,
		     (unsigned long long)hash64_str(key), safe) < 0)
		return NULL;
	return dir;
}

static void inst_set_snap_locked(struct inst *in, struct snap *s)
{
	struct snap *old = in->cur;

	if (old) {
		cache_bytes -= old->bytes;
		if (old->dir) {
			rm_tree(old->dir);
			free(old->dir);
			old->dir = NULL;
		}
		snap_put_locked(old);
	}
	in->cur = s;
	if (!s) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/current", in->dir);
		unlink(path);
	} else {
		cache_bytes += s->bytes;
		for (int f = 0; f < FMT_COUNT; f++)
			in->last_size[f] = s->size[f];
		in->last_mtime = s->started;
	}
}

struct inst *inst_ensure(const char *key, const struct inst_spec *ispec)
{
	struct inst *in, **b;
	struct spec *sp = spec_copy(ispec);
	struct snap *adopted = NULL;
	char *dir;

	if (!sp)
		return NULL;
	pthread_mutex_lock(&lock);
	b = bucket_of(key);
	for (in = *b; in; in = in->next)
		if (!strcmp(in->key, key))
			break;
	if (in) {
		bool changed = in->spec->def_hash != sp->def_hash;

		if (changed)
			in->stale = true;
		spec_put(in->spec);
		in->spec = sp;
		pthread_mutex_unlock(&lock);
		if (changed)
			shared_stale(key); /* hook: other hosts drop theirs */
		return in;
	}
	pthread_mutex_unlock(&lock);

	/* A new instance: look at the cache outside the lock. */
	dir = inst_dir(key, sp->label);
	if (!dir || mkdir_p(dir, 0700) < 0) {
		log_msg(LOG_ERR, "cache", "cannot create %s for %s",
			dir ? dir : "a cache folder", key);
		free(dir);
		spec_put(sp);
		return NULL;
	}
	adopted = meta_adopt(dir, sp);

	pthread_mutex_lock(&lock);
	for (in = *b; in; in = in->next)
		if (!strcmp(in->key, key))
			break;
	if (in) { /* another thread won the race */
		pthread_mutex_unlock(&lock);
		if (adopted) {
			free(adopted->dir);
			free(adopted);
		}
		free(dir);
		spec_put(sp);
		return in;
	}
	in = calloc(1, sizeof(*in));
	if (!in || !(in->key = strdup(key))) {
		pthread_mutex_unlock(&lock);
		free(in);
		free(dir);
		spec_put(sp);
		return NULL;
	}
	in->dir = dir;
	in->spec = sp;
	pthread_cond_init(&in->done, NULL);
	if (adopted) {
		if (adopted->gen >= next_gen)
			next_gen = adopted->gen + 1;
		inst_set_snap_locked(in, adopted);
	}
	in->next = *b;
	*b = in;
	pthread_mutex_unlock(&lock);
	return in;
}

void inst_stat(struct inst *in, int fmt, off_t *size, time_t *mtime)
{
	pthread_mutex_lock(&lock);
	/*
	 * The kernel keeps one size per inode and takes it from every
	 * answer: while a handle reads a snapshot through the page cache,
	 * that snapshot's size is the only one given, or its reads would
	 * be cut or padded.  Newer handles read direct and need no size.
	 */
	*size = in->pc_open[fmt] > 0 ? in->pc_size[fmt] : in->last_size[fmt];
	*mtime = in->last_mtime;
	pthread_mutex_unlock(&lock);
}

/* What shared.c needs to know of a run of @in made from @sp. */
static void shared_describe(struct shared_run *sr, const struct inst *in,
			    const struct spec *sp)
{
	memset(sr, 0, sizeof(*sr));
	sr->key = in->key;
	sr->def_hash = sp->def_hash;
	sr->csv = sp->csv;
	sr->row_limit = sp->row_limit;
	sr->formats = sp->formats;
	sr->ttl = sp->ttl;
}

void inst_touch(struct inst *in)
{
	struct shared_run sr;

	pthread_mutex_lock(&lock);
	in->stale = true;
	in->touch_seq++;
	in->touched_ms = now_real_ms();
	shared_describe(&sr, in, in->spec);
	pthread_mutex_unlock(&lock);
	shared_touch(&sr); /* hook: void the shared copy, tell other hosts */
}

bool inst_touch_remote(const char *key)
{
	struct inst *in;

	pthread_mutex_lock(&lock);
	for (in = *bucket_of(key); in; in = in->next)
		if (!strcmp(in->key, key))
			break;
	if (in) {
		in->stale = true;
		in->touch_seq++;
	}
	pthread_mutex_unlock(&lock);
	return in != NULL;
}

char *inst_error(struct inst *in)
{
	char *e;

	pthread_mutex_lock(&lock);
	e = xstrdup(in->error);
	pthread_mutex_unlock(&lock);
	return e;
}

static bool fresh_locked(const struct inst *in)
{
	const struct snap *s = in->cur;

	if (!s || in->stale || in->spec->ttl <= 0)
		return false;
	return time(NULL) - s->done < in->spec->ttl;
}

/* --- runs ------------------------------------------------------------- */

/* Removes least recently used snapshots until the cache fits. */
static void cache_enforce_locked(const struct inst *keep)
{
	while (cache_bytes > conf->cache_size) {
		struct inst *victim = NULL;

		for (size_t b = 0; b < NBUCKETS; b++)
			for (struct inst *in = buckets[b]; in; in = in->next)
				if (in != keep && in->cur && !in->running &&
				    (!victim || in->used < victim->used))
					victim = in;
		if (!victim)
			return;
		log_msg(LOG_INFO, "cache",
			"cache over %llu bytes: dropping the snapshot of %s",
			(unsigned long long)conf->cache_size, victim->key);
		inst_set_snap_locked(victim, NULL);
		stat_evicted++;
	}
}

struct run_job {
	struct inst *in;
	struct spec *sp;
	uint64_t touch_seq;
	int64_t touched_ms;
	uint64_t gen;
	pthread_t tid;
	struct run_job *next; /* on @ended */
};

/*
 * Run threads are joined, not detached: a thread is not over when it
 * says so.  Its thread-specific data is freed after run_main returns,
 * OpenSSL's per-thread state among it (libcurl starts OpenSSL in the
 * first run), and OpenSSL's exit handler frees that state of every
 * thread it knows: a run thread still ending when main() returns has
 * it freed twice.  An ended run leaves its job on @ended, to be joined
 * by the next run and at shutdown.
 */
static void runs_join_ended(void)
{
	struct run_job *job, *next;

	pthread_mutex_lock(&lock);
	job = ended;
	ended = NULL;
	pthread_mutex_unlock(&lock);
	for (; job; job = next) {
		next = job->next;
		pthread_join(job->tid, NULL);
		free(job);
	}
}

static void run_log(const struct run_job *job, const struct run_result *res,
		    bool have_old)
{
	if (res->status == DRV_OK) {
		log_msg(LOG_INFO, "run", "%s: %llu rows in %lld ms%s",
			job->in->key, (unsigned long long)res->rows,
			(long long)res->ms,
			res->truncated ? " (cut at the row limit)" : "");
		return;
	}
	log_msg(LOG_ERR, "run", "%s failed after %lld ms: %s; %s", job->in->key,
		(long long)res->ms, res->err,
		have_old ? "serving the last good snapshot"
			 : "opening it fails until a run succeeds");
}

static struct snap *run_snap_new(struct run_job *job, time_t started,
				 char **paths)
{
	struct snap *s = calloc(1, sizeof(*s));
	char path[PATH_MAX];

	if (!s)
		return NULL;
	s->refs = 1;
	s->gen = job->gen;
	s->started = started;
	s->formats = job->sp->formats;
	s->def_hash = job->sp->def_hash;
	if (asprintf(&s->dir, "%s/%llu", job->in->dir,
		     (unsigned long long)job->gen) < 0) {
		free(s);
		return NULL;
	}
	for (int f = 0; f < FMT_COUNT; f++) {
		if (!(s->formats & (1u << f)))
			continue;
		snap_path(s, job->sp, f, path, sizeof(path));
		paths[f] = strdup(path);
	}
	return s;
}

static void run_publish(struct run_job *job, struct snap *s,
			const struct run_result *res)
{
	struct inst *in = job->in;
	bool ok = res->status == DRV_OK;

	if (ok) {
		char path[PATH_MAX];
		struct stat st;

		if (!s->done) /* a snapshot taken from Redis keeps its own */
			s->done = time(NULL);
		s->rows = res->rows;
		s->truncated = res->truncated;
		for (int f = 0; f < FMT_COUNT; f++) {
			if (!(s->formats & (1u << f)))
				continue;
			snap_path(s, job->sp, f, path, sizeof(path));
			if (stat(path, &st) == 0)
				s->size[f] = st.st_size;
			s->bytes += (uint64_t)s->size[f];
		}
		meta_write(in, job->sp, s);
	}

	pthread_mutex_lock(&lock);
	in->runs++;
	in->last_ms = res->ms;
	if (ok) {
		in->last_rows = res->rows;
		inst_set_snap_locked(in, s);
		if (in->touch_seq == job->touch_seq &&
		    in->spec->def_hash == job->sp->def_hash)
			in->stale = false;
		free(in->error);
		in->error = NULL;
		if (res->truncated &&
		    asprintf(&in->error,
			     "the result was cut at the row limit of %ld "
			     "rows\n",
			     job->sp->row_limit) < 0)
			in->error = NULL;
	} else {
		char *e = NULL;

		in->failures++;
		if (asprintf(&e, "%s\n", res->err) >= 0) {
			free(in->error);
			in->error = e;
		}
		in->error_time = time(NULL);
	}
	in->running = false;
	pthread_cond_broadcast(&in->done);
	if (ok)
		cache_enforce_locked(in);
	pthread_mutex_unlock(&lock);
}

/*
 * Runs @rs at its source, unless the hook takes the snapshot from
 * another host through Redis (then true) or waits for one running it.
 */
static bool run_or_take(struct run_job *job, struct run_spec *rs,
			struct shared_run *sr, struct snap *s,
			struct run_result *res)
{
	shared_describe(sr, job->in, job->sp);
	sr->timeout = source_conf(rs->src)->timeout;
	sr->paths = rs->paths;
	sr->not_before_ms = job->touched_ms;
	if (shared_run_begin(sr)) {
		s->started = sr->started;
		s->done = sr->done;
		res->status = DRV_OK;
		res->rows = sr->rows;
		res->truncated = sr->truncated;
		res->ms = sr->ms;
		return true;
	}
	rs->started = s->started = time(NULL); /* after any wait */
	sem_wait(&run_slots);
	run_execute(rs, res);
	sem_post(&run_slots);
	return false;
}

static void *run_main(void *arg)
{
	struct run_job *job = arg;
	struct run_spec rs = {0};
	struct run_result res = {0};
	struct shared_run sr = {0};
	struct snap *s;
	time_t started = time(NULL);
	bool have_old, taken = false;

	runs_join_ended();
	rs.label = job->sp->label;
	rs.title = job->sp->title;
	rs.sql = job->sp->sql;
	rs.odata = job->sp->odata;
	rs.params = job->sp->params;
	rs.nparams = job->sp->nparams;
	rs.src = source_find(job->sp->source);
	rs.formats = job->sp->formats;
	rs.csv = job->sp->csv;
	rs.row_limit = job->sp->row_limit;
	rs.tmpdir = conf->cache_dir;
	rs.tr_numbers = conf->tr_numbers;
	rs.timezone = conf->timezone;
	rs.started = started;

	s = run_snap_new(job, started, rs.paths);
	if (!s || mkdir_p(s->dir, 0700) < 0) {
		res.status = RUN_ERR_LOCAL;
		snprintf(res.err, sizeof(res.err),
			 "cannot create a snapshot folder in %s",
			 conf->cache_dir);
	} else if (!rs.src) {
		res.status = DRV_ERR_QUERY;
		snprintf(res.err, sizeof(res.err), "unknown source %s",
			 job->sp->source);
	} else {
		taken = run_or_take(job, &rs, &sr, s, &res);
		started = rs.started;
	}
	if (res.status != DRV_OK && s && s->dir)
		rm_tree(s->dir);

	pthread_mutex_lock(&lock);
	have_old = job->in->cur != NULL;
	pthread_mutex_unlock(&lock);
	if (!taken) /* shared.c logs what it takes */
		run_log(job, &res, have_old);
	run_publish(job, s, &res);
	/* hook: store the run for other hosts, say "done", unlock */
	shared_run_end(&sr, res.status == DRV_OK, started, res.rows,
		       res.truncated);
	if (res.status != DRV_OK && s) {
		free(s->dir);
		free(s);
	}
	for (int f = 0; f < FMT_COUNT; f++)
		free(rs.paths[f]);
	spec_put(job->sp);
	job->tid = pthread_self();
	pthread_mutex_lock(&lock);
	job->next = ended;
	ended = job;
	if (--nrunning == 0)
		pthread_cond_broadcast(&runs_done);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Starts a run of @in unless one is going; under the lock. */
static int run_start_locked(struct inst *in)
{
	struct run_job *job;
	pthread_t tid;
	int rc;

	if (in->running)
		return 0;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->in = in;
	job->sp = in->spec;
	__atomic_add_fetch(&job->sp->refs, 1, __ATOMIC_ACQ_REL);
	job->touch_seq = in->touch_seq;
	job->touched_ms = in->touched_ms;
	job->gen = next_gen++;
	rc = pthread_create(&tid, NULL, run_main, job);
	if (rc) {
		spec_put(job->sp);
		free(job);
		return -rc;
	}
	in->running = true;
	nrunning++;
	return 0;
}

static struct timespec wait_until(int timeout_s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_s;
	return ts;
}

/* Picks the snapshot to serve; under the lock.  NULL: nothing to serve. */
static struct snap *snap_choose_locked(struct inst *in)
{
	const struct source *src;
	struct timespec until;
	int timeout = 60;

	if (fresh_locked(in)) {
		stat_hits++;
		return in->cur;
	}
	stat_misses++;
	src = source_find(in->spec->source);
	if (src)
		timeout = source_conf(src)->timeout;
	until = wait_until(timeout);
	if (run_start_locked(in) < 0)
		return in->cur;
	while (in->running)
		if (pthread_cond_timedwait(&in->done, &lock, &until) ==
		    ETIMEDOUT)
			break;
	/* A snapshot of another definition (an edited query) is no answer. */
	if (in->cur && in->cur->def_hash != in->spec->def_hash)
		return NULL;
	if (in->cur && !fresh_locked(in))
		stat_stale_served++;
	return in->cur;
}

int inst_open(struct inst *in, int fmt, struct snap_handle *h)
{
	char path[PATH_MAX];
	struct snap *s;
	struct spec *sp;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	pthread_mutex_lock(&lock);
	in->used = now_mono_ms();
	s = snap_choose_locked(in);
	if (!s || !s->dir || !(s->formats & (1u << fmt))) {
		pthread_mutex_unlock(&lock);
		return -EIO;
	}
	s->refs++;
	sp = in->spec;
	__atomic_add_fetch(&sp->refs, 1, __ATOMIC_ACQ_REL);
	snap_path(s, sp, fmt, path, sizeof(path));
	/* Opened under the lock: the files cannot be removed meanwhile. */
	h->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0) {
		int err = errno;

		snap_put_locked(s);
		pthread_mutex_unlock(&lock);
		spec_put(sp);
		log_errno(LOG_ERR, "cache", err, "cannot open snapshot %s",
			  path);
		return -EIO;
	}
	h->snap = s;
	h->fmt = fmt;
	h->size = s->size[fmt];
	/* Until inst_attrs_dropped(), every opener drops them. */
	h->new_attrs = in->attrs_gen[fmt] != s->gen;
	if (in->pc_open[fmt] > 0 && in->pc_gen[fmt] != s->gen) {
		h->direct_io = true;
	} else {
		h->keep_cache = in->cached_gen[fmt] == s->gen;
		in->cached_gen[fmt] = s->gen;
		in->pc_gen[fmt] = s->gen;
		in->pc_size[fmt] = s->size[fmt];
		in->pc_open[fmt]++;
	}
	pthread_mutex_unlock(&lock);
	spec_put(sp);
	return 0;
}

void inst_attrs_dropped(struct inst *in, const struct snap_handle *h)
{
	pthread_mutex_lock(&lock);
	if (h->snap && h->snap->gen > in->attrs_gen[h->fmt])
		in->attrs_gen[h->fmt] = h->snap->gen;
	pthread_mutex_unlock(&lock);
}

uint64_t inst_gen(const struct snap_handle *h)
{
	return h->snap ? h->snap->gen : 0;
}

bool inst_close(struct inst *in, struct snap_handle *h)
{
	bool changed = false;
	int f = h->fmt;

	if (h->fd >= 0)
		close(h->fd);
	pthread_mutex_lock(&lock);
	if (!h->direct_io && in->pc_open[f] > 0 && --in->pc_open[f] == 0)
		changed = !in->cur || in->cur->gen != in->pc_gen[f];
	if (h->snap)
		snap_put_locked(h->snap);
	pthread_mutex_unlock(&lock);
	h->snap = NULL;
	h->fd = -1;
	return changed;
}

void inst_forget(const char *key)
{
	struct inst **pp, *in = NULL;

	pthread_mutex_lock(&lock);
	for (pp = bucket_of(key); *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->key, key)) {
			in = *pp;
			break;
		}
	}
	/* A running instance is kept: its run thread still points at it. */
	if (in && !in->running) {
		*pp = in->next;
		inst_set_snap_locked(in, NULL);
		rm_tree(in->dir);
		spec_put(in->spec);
		free(in->error);
		free(in->dir);
		free(in->key);
		pthread_cond_destroy(&in->done);
		free(in);
	} else if (in) {
		in->stale = true;
	}
	pthread_mutex_unlock(&lock);
}

/* --- set-up and status ------------------------------------------------ */

int snap_init(const struct conf *c)
{
	int rc;

	conf = c;
	rc = mkdir_p(c->cache_dir, 0700);
	if (rc < 0) {
		log_errno(LOG_ERR, "cache", -rc, "cannot create cache_dir %s",
			  c->cache_dir);
		return rc;
	}
	if (chmod(c->cache_dir, 0700) < 0)
		log_errno(LOG_WARNING, "cache", errno,
			  "cannot restrict cache_dir %s to its owner",
			  c->cache_dir);
	sem_init(&run_slots, 0, (unsigned)c->max_runs);
	return shared_init(c); /* hook: [redis] */
}

void snap_shutdown(void)
{
	struct timespec until;

	/* Runs end by their timeout; wait for them, within reason. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 120;
	pthread_mutex_lock(&lock);
	while (nrunning > 0)
		if (pthread_cond_timedwait(&runs_done, &lock, &until) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&lock);
	runs_join_ended(); /* before exit handlers free what they free */
	shared_shutdown(); /* hook: runs are over, events no longer heard */
	pthread_mutex_lock(&lock);
	for (size_t b = 0; b < NBUCKETS; b++) {
		struct inst *in = buckets[b];

		while (in) {
			struct inst *next = in->next;

			/* A run still going keeps its instance. */
			if (in->running) {
				in = next;
				continue;
			}
			if (in->cur) {
				free(in->cur->dir);
				in->cur->dir = NULL;
				snap_put_locked(in->cur);
			}
			spec_put(in->spec);
			free(in->error);
			free(in->dir);
			free(in->key);
			free(in);
			in = next;
		}
		buckets[b] = NULL;
	}
	pthread_mutex_unlock(&lock);
}

static void json_time_member(struct strbuf *sb, const char *name, time_t t)
{
	char buf[40];
	struct tm tm;

	strbuf_addf(sb, ", \"%s\": ", name);
	if (!t) {
		strbuf_adds(sb, "null");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	strbuf_adds(sb, buf);
}

void snap_health_json(struct strbuf *sb)
{
	bool first = true;

	pthread_mutex_lock(&lock);
	for (size_t b = 0; b < NBUCKETS; b++) {
		for (struct inst *in = buckets[b]; in; in = in->next) {
			strbuf_adds(sb, first ? "\n    " : ",\n    ");
			first = false;
			json_str(sb, in->key);
			strbuf_addf(sb, ": {\"running\": %s, \"fresh\": %s",
				    in->running ? "true" : "false",
				    fresh_locked(in) ? "true" : "false");
			json_time_member(sb, "snapshot",
					 in->cur ? in->cur->started : 0);
			strbuf_addf(sb,
				    ", \"rows\": %llu, \"last_ms\": %lld, "
				    "\"runs\": %llu, \"failures\": %llu",
				    (unsigned long long)in->last_rows,
				    (long long)in->last_ms,
				    (unsigned long long)in->runs,
				    (unsigned long long)in->failures);
			strbuf_adds(sb, ", \"last_error\": ");
			if (in->error)
				json_str(sb, in->error);
			else
				strbuf_adds(sb, "null");
			strbuf_addc(sb, '}');
		}
	}
	pthread_mutex_unlock(&lock);
}

void snap_metrics(struct strbuf *sb)
{
	pthread_mutex_lock(&lock);
	strbuf_addf(sb,
		    "# HELP sapb1fs_cache_bytes Bytes of current snapshots.\n"
		    "# TYPE sapb1fs_cache_bytes gauge\n"
		    "sapb1fs_cache_bytes %llu\n"
		    "# HELP sapb1fs_opens_total Report opens by outcome.\n"
		    "# TYPE sapb1fs_opens_total counter\n"
		    "sapb1fs_opens_total{snapshot=\"fresh\"} %llu\n"
		    "sapb1fs_opens_total{snapshot=\"run\"} %llu\n"
		    "sapb1fs_opens_total{snapshot=\"stale\"} %llu\n"
		    "# HELP sapb1fs_cache_evictions_total Snapshots dropped "
		    "for cache_size.\n"
		    "# TYPE sapb1fs_cache_evictions_total counter\n"
		    "sapb1fs_cache_evictions_total %llu\n",
		    (unsigned long long)cache_bytes,
		    (unsigned long long)stat_hits,
		    (unsigned long long)stat_misses,
		    (unsigned long long)stat_stale_served,
		    (unsigned long long)stat_evicted);
	pthread_mutex_unlock(&lock);
}
