/* log: see log.h.  The only place that writes diagnostics. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *log_ident = "sapb1fs";
static enum log_sink log_sink = LOG_SINK_STDERR;
static int log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* JOURNAL_STREAM is "dev:ino" of the stream journald gave us. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(2, &st) < 0)
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_init(const char *ident, bool foreground)
{
	log_ident = ident;
	if (stderr_is_journal())
		log_sink = LOG_SINK_JOURNAL;
	else if (foreground)
		log_sink = LOG_SINK_STDERR;
	else
		log_sink = LOG_SINK_SYSLOG;
	if (log_sink == LOG_SINK_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
	    {"error", LOG_ERR},	    {"warning", LOG_WARNING},
	    {"notice", LOG_NOTICE}, {"info", LOG_INFO},
	    {"debug", LOG_DEBUG},
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

static void log_emit(int prio, const char *module, const char *text)
{
	switch (log_sink) {
	case LOG_SINK_SYSLOG:
		syslog(prio, "%s: %s", module, text);
		break;
	case LOG_SINK_JOURNAL:
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "<%d>%s: %s\n", prio, module, text);
		pthread_mutex_unlock(&log_lock);
		break;
	case LOG_SINK_STDERR:
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s: %s: %s\n", log_ident, module, text);
		pthread_mutex_unlock(&log_lock);
		break;
	}
}

static void log_vmsg(int prio, const char *module, int errnum, const char *fmt,
		     va_list ap)
{
	char text[1024];
	int n;

	if (prio > log_level)
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		return;
	if (errnum && (size_t)n < sizeof(text))
		snprintf(text + n, sizeof(text) - n, ": %s", strerror(errnum));
	/* One line per message: a newline in data must not forge another. */
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	log_emit(prio, module, text);
}

void log_msg(int prio, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, module, 0, fmt, ap);
	va_end(ap);
}

void log_errno(int prio, const char *module, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, module, errnum, fmt, ap);
	va_end(ap);
}
