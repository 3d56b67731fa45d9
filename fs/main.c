/*
 * main: the sapb1fs program: options (also as run by mount.fuse3 from an
 * fstab line, SOURCE first), --check-config, loading the config and the
 * definitions, mounting, going to the background only once the mount
 * exists, and reloading definitions on SIGHUP or a change in
 * reports_dir.
 */
#include "config.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "driver.h"
#include "inval.h"
#include "log.h"
#include "shared.h"
#include "snap.h"
#include "tree.h"
#include "source.h"
#ifdef HAVE_IMAGES
#include "images.h"
#endif

struct fs_ctx fs;

static pthread_mutex_t defs_lock = PTHREAD_MUTEX_INITIALIZER;

struct options {
	char *config;
	int check;
	int help;
	int version;
};

#define OPT(t, p)                                                              \
	{                                                                      \
		t, offsetof(struct options, p), 1                              \
	}
static const struct fuse_opt opt_spec[] = {
    OPT("config=%s", config),	  OPT("--config=%s", config),
    OPT("--check-config", check), OPT("-h", help),
    OPT("--help", help),	  OPT("-V", version),
    OPT("--version", version),	  FUSE_OPT_END,
};

/* --- definitions ------------------------------------------------------ */

struct fs_defs *fs_defs_get(void)
{
	struct fs_defs *d;

	pthread_mutex_lock(&defs_lock);
	d = fs.defs;
	d->refs++;
	pthread_mutex_unlock(&defs_lock);
	return d;
}

static void defs_free(struct fs_defs *d)
{
	report_free_all(d->v, d->n);
	free(d->gid);
	free(d);
}

void fs_defs_put(struct fs_defs *d)
{
	bool last;

	pthread_mutex_lock(&defs_lock);
	last = --d->refs == 0;
	pthread_mutex_unlock(&defs_lock);
	if (last)
		defs_free(d);
}

const struct report *fs_defs_find(const struct fs_defs *d, const char *name,
				  size_t *idx)
{
	for (size_t i = 0; i < d->n; i++) {
		if (!strcmp(d->v[i]->name, name)) {
			if (idx)
				*idx = i;
			return d->v[i];
		}
	}
	return NULL;
}

static int group_gid(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -1;
	*gid = gr.gr_gid;
	return 0;
}

/*
 * Checks what report.c cannot: that the source exists and its driver
 * is built, and that the group exists.  Failing reports are dropped.
 */
static void defs_check(const struct conf *c, struct fs_defs *d, struct diag *dg)
{
	size_t kept = 0;

	for (size_t i = 0; i < d->n; i++) {
		struct report *r = d->v[i];
		const struct conf_source *src = conf_source_find(c, r->source);
		gid_t gid = fs.gid;
		bool ok = true;

		if (!src) {
			diag_error(dg, r->path, 0, "unknown source '%s'",
				   r->source);
			ok = false;
		} else if (!drv_find(src->driver)) {
			diag_error(dg, r->path, 0,
				   "source '%s' needs driver %s, which this "
				   "build lacks",
				   r->source, src->driver);
			ok = false;
		} else if (r->odata && strcmp(src->driver, "servicelayer")) {
			diag_error(dg, r->path, 0,
				   "odata needs a servicelayer source");
			ok = false;
		}
		if (r->group && group_gid(r->group, &gid) < 0) {
			diag_error(dg, r->path, 0, "unknown group '%s'",
				   r->group);
			ok = false;
		}
		if (!ok) {
			report_free(r);
			continue;
		}
		d->gid[kept] = gid;
		d->v[kept++] = r;
	}
	d->n = kept;
}

static struct fs_defs *defs_load(const struct conf *c, struct diag *dg)
{
	struct fs_defs *d = calloc(1, sizeof(*d));
	int n;

	if (!d)
		return NULL;
	d->refs = 1;
	n = report_load_dir(c->reports_dir, &d->v, dg);
	if (n < 0) {
		diag_error(dg, c->reports_dir, 0, "cannot read: %s",
			   strerror(-n));
		n = 0;
	}
	d->n = (size_t)n;
	d->gid = calloc(d->n + 1, sizeof(*d->gid));
	if (!d->gid) {
		defs_free(d);
		return NULL;
	}
	defs_check(c, d, dg);
	return d;
}

static void diag_log(const struct diag *dg)
{
	for (size_t i = 0; i < dg->n; i++)
		log_msg(LOG_ERR, "reports", "%s; the report is left out",
			dg->msgs[i]);
}

int fs_defs_reload(void)
{
	struct diag dg = {0};
	struct fs_defs *d = defs_load(fs.conf, &dg), *old;

	diag_log(&dg);
	diag_free(&dg);
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&defs_lock);
	old = fs.defs;
	fs.defs = d;
	pthread_mutex_unlock(&defs_lock);
	log_msg(LOG_INFO, "reports", "%zu report definitions loaded from %s",
		d->n, fs.conf->reports_dir);
	if (old) {
		tree_defs_changed(old);
		fs_defs_put(old);
	}
	return 0;
}

/* --- reload thread ------------------------------------------------------ */

/*
 * Waits for SIGHUP (blocked in every other thread) and for changes in
 * reports_dir, and reloads; changes come in bursts (an editor writes a
 * temporary file and renames it), so a burst is read out first.
 */
static void *reload_main(void *arg)
{
	sigset_t set;
	struct pollfd pfd[2];
	char buf[4096];

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	pfd[0].fd = signalfd(-1, &set, SFD_CLOEXEC);
	pfd[0].events = POLLIN;
	pfd[1].fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	pfd[1].events = POLLIN;
	if (pfd[1].fd >= 0 &&
	    inotify_add_watch(pfd[1].fd, fs.conf->reports_dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
				  IN_DELETE | IN_CREATE) < 0)
		log_errno(LOG_WARNING, "reports", errno,
			  "cannot watch %s; changes apply on SIGHUP",
			  fs.conf->reports_dir);
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(pfd[0].fd, &si, sizeof(si)) > 0)
				log_msg(LOG_INFO, "reports",
					"SIGHUP: reloading definitions");
		}
		if (pfd[1].revents & POLLIN) {
			usleep(200 * 1000);
			while (read(pfd[1].fd, buf, sizeof(buf)) > 0)
				;
		}
		fs_defs_reload();
	}
	return NULL;
}

/* --- options ---------------------------------------------------------- */

/* Mount options that belong to mount(8) or systemd, not to us. */
static bool option_foreign(const char *opt)
{
	/* nosuid, nodev, noexec and the like are libfuse's: not here. */
	static const char *const names[] = {
	    "_netdev", "nofail", "noauto",   "auto",  "user",
	    "users",   "nouser", "defaults", "owner",
	};

	if (!strncmp(opt, "x-", 2) || !strncmp(opt, "comment=", 8))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(opt, names[i]))
			return true;
	return false;
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	(void)data;
	(void)outargs;
	if (key == FUSE_OPT_KEY_OPT && option_foreign(arg))
		return 0;
	return 1;
}

/*
 * mount.fuse3 runs "sapb1fs SOURCE MOUNTPOINT -o ...": with two
 * positional arguments the first is the fstab source, which we drop.
 */
static void drop_source(struct fuse_args *args)
{
	int pos[2], n = 0;

	for (int i = 1; i < args->argc && n < 3; i++) {
		const char *a = args->argv[i];

		if (!strcmp(a, "-o")) {
			i++;
			continue;
		}
		if (a[0] == '-')
			continue;
		if (n < 2)
			pos[n] = i;
		n++;
	}
	if (n != 2)
		return;
	free(args->argv[pos[0]]);
	for (int i = pos[0]; i < args->argc - 1; i++)
		args->argv[i] = args->argv[i + 1];
	args->argc--;
	args->argv[args->argc] = NULL;
}

static void usage(const char *prog)
{
	printf("usage: %s [SOURCE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]\n"
	       "       %s --check-config [PATH]\n"
	       "\n"
	       "options:\n"
	       "    -o config=PATH     configuration (default %s)\n"
	       "    -o allow_other     let other users in (Samba needs it)\n"
	       "    -o auto_unmount    unmount when the daemon dies\n"
	       "    -f                 stay in the foreground\n"
	       "    -d                 foreground, with FUSE debugging\n"
	       "    --check-config     check the configuration and every "
	       "report, then exit\n",
	       prog, prog, CONF_DEFAULT_PATH);
}

/* --check-config: like nginx -t; 0 when there is no problem. */
static int check_config(const char *path)
{
	struct diag dg = {0};
	struct conf *c = NULL;
	struct fs_defs *d;
	int rc = 1;

	fs.uid = getuid();
	fs.gid = getgid();
	if (conf_load(path, &c, &dg) == 0) {
		d = defs_load(c, &dg);
		if (d) {
			printf("%s: %zu reports\n", path, d->n);
			defs_free(d);
		}
	}
	for (size_t i = 0; i < dg.n; i++)
		fprintf(stderr, "%s\n", dg.msgs[i]);
	if (c && dg.errors == 0) {
		printf("%s: configuration is valid\n", path);
		rc = 0;
	}
	diag_free(&dg);
	conf_free(c);
	return rc;
}

/* --- background ------------------------------------------------------- */

/*
 * Going to the background happens before the set-up, not after the mount
 * as fuse_daemonize() would: a fork then would keep only the forking
 * thread, and the set-up already starts some (the images/ workers).  The
 * parent waits on a pipe for one status byte, written once the mount
 * exists or the child failed, and exits with it: whoever ran the command
 * (mount(8), a systemd mount unit) learns whether the mount happened.
 */
static int bg_fd = -1;

static int bg_start(void)
{
	int pfd[2];
	char st = 1;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &st, 1) != 1)
			st = 1;
		_exit(st);
	}
	close(pfd[0]);
	bg_fd = pfd[1];
	setsid();
	return 0;
}

/* Releases the waiting parent with @status; a no-op after the first. */
static void bg_done(int status)
{
	char st = status ? 1 : 0;
	int fd;

	if (bg_fd < 0)
		return;
	if (status == 0) {
		if (chdir("/") < 0)
			log_errno(LOG_WARNING, "fs", errno,
				  "cannot change to /");
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	if (write(bg_fd, &st, 1) != 1)
		log_errno(LOG_WARNING, "fs", errno, "cannot report to parent");
	close(bg_fd);
	bg_fd = -1;
}

static int setup(const char *config_path, bool foreground)
{
	struct diag dg = {0};
	int rc;

	fs.config_path = config_path;
	fs.uid = getuid();
	fs.gid = getgid();
	fs.mounted = time(NULL);
	rc = conf_load(config_path, &fs.conf, &dg);
	for (size_t i = 0; i < dg.n; i++)
		fprintf(stderr, "%s\n", dg.msgs[i]);
	diag_free(&dg);
	if (rc < 0) {
		fprintf(stderr, "sapb1fs: %s has errors; not mounting\n",
			config_path);
		return -1;
	}
	log_set_level(fs.conf->log_level);
	(void)foreground;
	if (snap_init(fs.conf) < 0 || source_init_all(fs.conf) < 0)
		return -1;
#ifdef HAVE_IMAGES
	if (images_init(fs.conf) < 0)
		return -1;
#endif
	if (fs_defs_reload() < 0)
		return -1;
	return 0;
}

static void teardown(void)
{
	tree_release_all();
#ifdef HAVE_IMAGES
	images_shutdown();
#endif
	snap_shutdown();
	source_shutdown_all();
	if (fs.defs)
		fs_defs_put(fs.defs);
	conf_free(fs.conf);
}

static int serve(struct fuse_args *args, struct fuse_cmdline_opts *co)
{
	struct fuse_loop_config *lc;
	struct fuse *f;
	pthread_t tid;
	int rc = 1;

	f = fuse_new(args, &fs_ops, sizeof(fs_ops), NULL);
	if (!f)
		return 1;
	if (fuse_mount(f, co->mountpoint) != 0) {
		fprintf(stderr, "sapb1fs: cannot mount on %s\n",
			co->mountpoint);
		goto out_destroy;
	}
	if (fuse_set_signal_handlers(fuse_get_session(f)) != 0)
		goto out_unmount;
	/* The mount exists: the command that started us may end now. */
	bg_done(0);
	log_init("sapb1fs", co->foreground);
	if (pthread_create(&tid, NULL, reload_main, NULL) == 0)
		pthread_detach(tid);
	shared_attach(); /* [redis]: hear other hosts, now we are forked */
	if (inval_start(f) < 0)
		log_msg(LOG_WARNING, "fs",
			"cannot start the cache drop thread; every report "
			"file is read direct, and sizes show a second late");
	log_msg(LOG_NOTICE, "fs", "mounted %s with %zu reports from %s",
		co->mountpoint, fs.defs->n, fs.config_path);

	lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, co->clone_fd);
	fuse_loop_cfg_set_max_threads(lc, (unsigned)fs.conf->max_threads);
	/*
	 * The idle-thread limit stays libfuse's default, none: a limit
	 * below the requests in flight (read-ahead sends several at once)
	 * makes it start and end a thread for nearly every request.
	 */
	rc = co->singlethread ? fuse_loop(f) : fuse_loop_mt(f, lc);
	fuse_loop_cfg_destroy(lc);
	shared_detach();
	inval_stop();
	fuse_remove_signal_handlers(fuse_get_session(f));
	log_msg(LOG_NOTICE, "fs", "unmounted %s", co->mountpoint);
out_unmount:
	fuse_unmount(f);
	inval_join();
out_destroy:
	fuse_destroy(f);
	return rc ? 1 : 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = {0};
	struct options o = {0};
	const char *config;
	sigset_t set;
	int rc = 1;

	process_protect();

	if (argc >= 2 && !strcmp(argv[1], "--check-config"))
		return check_config(argc >= 3 ? argv[2] : CONF_DEFAULT_PATH);
	log_init("sapb1fs", true);
	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) != 0)
		return 1;
	config = o.config ? o.config : CONF_DEFAULT_PATH;
	if (o.help) {
		usage(argv[0]);
		rc = 0;
		goto out_args;
	}
	if (o.version) {
		printf("sapb1fs %s, FUSE %s\n", PACKAGE_VERSION,
		       fuse_pkgversion());
		rc = 0;
		goto out_args;
	}
	if (o.check) {
		rc = check_config(config);
		goto out_args;
	}
	drop_source(&args);
	if (fuse_parse_cmdline(&args, &co) != 0)
		goto out_args;
	if (!co.mountpoint) {
		usage(argv[0]);
		goto out_args;
	}
	/* The kernel checks every access against the modes we show. */
	fuse_opt_add_arg(&args, "-odefault_permissions,fsname=sapb1fs,"
				"subtype=sapb1fs");
	if (co.debug)
		fuse_opt_add_arg(&args, "-odebug");
	/*
	 * SIGHUP is read by the reload thread's signalfd: blocked before
	 * any thread exists, so every thread inherits the mask and none
	 * takes it with libfuse's handler (which would unmount).
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (!co.foreground && (rc = bg_start()) < 0) {
		log_errno(LOG_ERR, "fs", -rc, "cannot go to the background");
		rc = 1;
		goto out_args;
	}
	rc = 1;
	if (setup(config, co.foreground) == 0)
		rc = serve(&args, &co);
	bg_done(rc);
	teardown();
out_args:
	free(co.mountpoint);
	free(o.config);
	fuse_opt_free_args(&args);
	return rc;
}
