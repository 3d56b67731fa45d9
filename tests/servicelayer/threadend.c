/*
 * threadend: an LD_PRELOAD library for the daemon that holds back the
 * end of every thread started from the daemon's own code: when its start
 * routine returns, the thread sleeps THREADEND_DELAY_MS before its
 * thread-specific data is freed, as a thread descheduled under load
 * does.  THREADEND_LOG gets "returned TID" then, "end TID" once the
 * thread's data is freed, and "exit" when the process ends: a thread
 * that returned and never reached "end" was still ending at exit, which
 * OpenSSL's exit handler does not survive (it frees that data too).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct tramp {
	void *(*fn)(void *);
	void *arg;
};

static pthread_key_t end_key;
static char exe[PATH_MAX];

static void note(const char *what)
{
	const char *path = getenv("THREADEND_LOG");
	char line[64];
	ssize_t w;
	int fd, n;

	if (!path)
		return;
	n = snprintf(line, sizeof(line), "%s %ld\n", what,
		     (long)syscall(SYS_gettid));
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	w = write(fd, line, (size_t)n);
	(void)w; /* a test reads what got there */
	close(fd);
}

static void on_end(void *v)
{
	(void)v;
	note("end");
}

static void *tramp_main(void *p)
{
	struct tramp t = *(struct tramp *)p;
	const char *ms = getenv("THREADEND_DELAY_MS");
	void *ret;

	free(p);
	pthread_setspecific(end_key, &end_key);
	ret = t.fn(t.arg);
	note("returned");
	usleep((useconds_t)(ms ? atol(ms) : 2000) * 1000);
	return ret;
}

__attribute__((constructor)) static void threadend_init(void)
{
	pthread_key_create(&end_key, on_end);
	if (!realpath("/proc/self/exe", exe))
		exe[0] = '\0';
}

__attribute__((destructor)) static void threadend_fini(void)
{
	note("exit");
}

/* Whether @fn is in the executable, not in a library. */
static int ours(void *(*fn)(void *))
{
	char path[PATH_MAX];
	Dl_info di;

	if (!exe[0] || !dladdr((void *)fn, &di) || !di.dli_fname)
		return 0;
	return realpath(di.dli_fname, path) && strcmp(path, exe) == 0;
}

int pthread_create(pthread_t *tid, const pthread_attr_t *attr,
		   void *(*fn)(void *), void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *,
			   void *(*)(void *), void *);
	struct tramp *t;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	if (!ours(fn) || !(t = malloc(sizeof(*t))))
		return real(tid, attr, fn, arg);
	t->fn = fn;
	t->arg = arg;
	return real(tid, attr, tramp_main, t);
}
