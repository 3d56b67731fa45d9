/*
 * log: the one logger of every sapb1fs program.
 *
 * Owns where lines go (stderr with systemd priority prefixes under
 * systemd, plain stderr in the foreground, syslog when detached) and the
 * level threshold.  Callers log once, at the layer that decides; a line
 * reads "module: what failed, on what: why", lower case, no final period.
 */
#ifndef SAPB1_LOG_H
#define SAPB1_LOG_H

#include <stdbool.h>
#include <syslog.h>

enum log_sink {
	LOG_SINK_STDERR,  /* interactive: "sapb1fs: module: text" */
	LOG_SINK_JOURNAL, /* stderr read by journald: "<3>module: text" */
	LOG_SINK_SYSLOG,  /* detached daemon */
};

/*
 * Sets the program name and picks the sink: the journal when
 * JOURNAL_STREAM names our stderr, else stderr when @foreground,
 * else syslog.  Safe to call again after daemonizing.
 */
void log_init(const char *ident, bool foreground);

/* Lines above @level (a LOG_* priority) are dropped; LOG_INFO at start. */
void log_set_level(int level);
int log_get_level(void);

/* Parses "error", "warning", "notice", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *name);

/* Logs one line at @prio for @module.  Thread-safe. */
void log_msg(int prio, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As log_msg, with ": strerror(errnum)" appended. */
void log_errno(int prio, const char *module, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
