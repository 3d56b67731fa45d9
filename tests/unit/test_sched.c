/*
 * test_sched: the scheduler's parts that need no mount: the state file
 * (read-modify-write, odd messages, lines of others kept), history names,
 * copies, pruning and the per-report lock, mail jobs as the mailer reads
 * them, and the catch-up rule for runs missed while stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cron.h"
#include "history.h"
#include "mailjob.h"
#include "spool.h"
#include "state.h"
#include "tap.h"
#include "timetable.h"
#include "tz.h"
#include "util.h"

static char tmpdir[] = "/tmp/test_sched.XXXXXX";

static void path_of(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", tmpdir, rel);
}

static void put_file(const char *rel, const char *text)
{
	char path[512];

	path_of(path, sizeof(path), rel);
	CHECK_INT(file_write_atomic(path, text, strlen(text), 0644), 0);
}

static bool exists(const char *rel)
{
	char path[512];

	path_of(path, sizeof(path), rel);
	return access(path, F_OK) == 0;
}

/* --- state ------------------------------------------------------------- */

struct edit {
	int64_t slot;
	const char *msg;
};

static void edit_run(struct state_rec *rec, void *ctx)
{
	const struct edit *e = ctx;

	rec->last_slot = e->slot;
	rec->last_start = e->slot + 1;
	rec->last_end = e->slot + 2;
	rec->result = e->msg ? STATE_FAILED : STATE_OK;
	rec->failures = e->msg ? rec->failures + 1 : 0;
	snprintf(rec->msg, sizeof(rec->msg), "%s", e->msg ? e->msg : "");
}

static void test_state(void)
{
	struct edit a = {1000, NULL}, b = {2000, "cannot read\tx:\nEIO"};
	struct state st;
	struct state_rec out, *r;
	char path[512], *text;

	CHECK_INT(state_load(tmpdir, &st), 0);
	CHECK_INT(st.n, 0);
	state_free(&st);
	CHECK_INT(state_update(tmpdir, "alpha", edit_run, &a, &out), 0);
	CHECK_INT(out.last_slot, 1000);
	CHECK_INT(state_update(tmpdir, "beta", edit_run, &b, NULL), 0);
	CHECK_INT(state_update(tmpdir, "beta", edit_run, &b, &out), 0);
	CHECK_INT(out.failures, 2);

	/* a line someone else wrote, and junk, survive or are skipped */
	path_of(path, sizeof(path), STATE_FILE);
	CHECK_INT(file_read_all(path, &text, NULL), 0);
	CHECK(strstr(text, "cannot read x: EIO") != NULL);
	free(text);
	CHECK_INT(state_load(tmpdir, &st), 0);
	CHECK_INT(st.n, 2);
	r = state_find(&st, "alpha");
	CHECK(r && r->result == STATE_OK && r->last_end == 1002);
	r = state_find(&st, "beta");
	CHECK(r && r->result == STATE_FAILED);
	CHECK_STR(r ? r->msg : NULL, "cannot read x: EIO");
	CHECK(state_find(&st, "gamma") == NULL);
	state_free(&st);

	put_file(STATE_FILE, "# comment\nalpha\t1\t2\t3\t4\tok\t0\t0\t\n"
			     "bad line\n../x\t1\t2\t3\t4\tok\t0\t0\t\n"
			     "beta\t1\t2\t3\t4\tmaybe\t0\t0\t\n");
	CHECK_INT(state_load(tmpdir, &st), 0);
	CHECK_INT(st.n, 1);
	state_free(&st);
	CHECK_INT(state_update(tmpdir, "gamma", edit_run, &a, NULL), 0);
	CHECK_INT(state_load(tmpdir, &st), 0);
	CHECK_INT(st.n, 2);
	CHECK(state_find(&st, "alpha") && state_find(&st, "gamma"));
	state_free(&st);
	CHECK_STR(state_result_name(STATE_NONE), "never");
}

/* --- history ----------------------------------------------------------- */

static void test_history(void)
{
	struct history_file hf[2];
	char dir[512], err[256], *text;
	struct tz *z = tz_load("Europe/Istanbul", err, sizeof(err));
	int src, lock;

	CHECK(z != NULL);
	if (!z)
		return;
	history_stamp(dir, sizeof(dir), z, 1764748800); /* 2025-12-03 08:00Z */
	CHECK_STR(dir, "2025-12-03_1100");
	tz_free(z);

	CHECK_INT(history_dir(dir, sizeof(dir), tmpdir, "rep"), 0);
	put_file("source.csv", "a;b\r\n1;2\r\n");
	path_of(err, sizeof(err), "source.csv");
	src = open(err, O_RDONLY);
	CHECK_INT(history_copy(&hf[0], dir, "2025-12-03_1100.csv", src, err,
			       sizeof(err)),
		  0);
	close(src);
	CHECK(strstr(hf[0].tmp, "/.2025-12-03_1100.csv.tmp.") != NULL);
	CHECK(!exists("history/rep/2025-12-03_1100.csv"));
	CHECK_INT(history_commit(hf, 1, dir), 0);
	CHECK_INT(file_read_all(hf[0].path, &text, NULL), 0);
	CHECK_STR(text, "a;b\r\n1;2\r\n");
	free(text);

	/* a read error leaves nothing behind */
	src = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(history_copy(&hf[1], dir, "x.csv", src, err, sizeof(err)) < 0);
	CHECK(strstr(err, "cannot read it") != NULL);
	CHECK(access(hf[1].tmp, F_OK) < 0);
	close(src);

	put_file("history/rep/2025-12-01_0700.csv", "old");
	put_file("history/rep/2025-12-01_0700.xlsx", "old");
	put_file("history/rep/2025-12-02_0700.error.txt", "failed");
	put_file("history/rep/2025-12-02_0800.csv", "newer");
	put_file("history/rep/.2025-12-03_1100.json.tmp.abcdef", "left");
	put_file("history/rep/notes.txt", "not ours");
	CHECK_INT(history_write_error(dir, "2025-12-03_1200", "boom\n"), 0);
	CHECK_INT(history_prune(dir, 3), 4);
	CHECK(exists("history/rep/2025-12-03_1200.error.txt"));
	CHECK(exists("history/rep/2025-12-03_1100.csv"));
	CHECK(exists("history/rep/2025-12-02_0800.csv"));
	CHECK(!exists("history/rep/2025-12-02_0700.error.txt"));
	CHECK(!exists("history/rep/2025-12-01_0700.xlsx"));
	CHECK(!exists("history/rep/.2025-12-03_1100.json.tmp.abcdef"));
	CHECK(exists("history/rep/notes.txt"));

	lock = history_lock(dir);
	CHECK(lock >= 0);
	CHECK_INT(history_lock(dir), -EWOULDBLOCK);
	CHECK(history_locked(dir));
	close(lock);
	CHECK(!history_locked(dir));
}

/* --- mail -------------------------------------------------------------- */

static void test_names(void)
{
	char buf[256], longt[400];

	mailjob_file_name(buf, sizeof(buf), "Tedarikçi bakiyeleri", "xlsx");
	CHECK_STR(buf, "Tedarikçi bakiyeleri.xlsx");
	mailjob_file_name(buf, sizeof(buf), "Alacak/Borç\tözet", "csv");
	CHECK_STR(buf, "Alacak-Borç-özet.csv");
	mailjob_file_name(buf, sizeof(buf), ".gizli", "csv");
	CHECK_STR(buf, "_gizli.csv");
	mailjob_file_name(buf, sizeof(buf), "", "csv");
	CHECK_STR(buf, "_.csv");
	memset(longt, 0, sizeof(longt));
	for (int i = 0; i < 190; i += 2)
		memcpy(longt + i, "ş", 2);
	mailjob_file_name(buf, sizeof(buf), longt, "html");
	CHECK(strlen(buf) <= 185);
	CHECK(str_has_suffix(buf, "ş.html"));
}

static void test_mailjob(void)
{
	struct report r = {0};
	struct spool sp;
	struct spool_strv ids = {0};
	struct spool_job job = {0};
	struct strbuf why = STRBUF_INIT;
	char spool_dir[512], err[256], xlsx[512], html[512];
	const char *files[FMT_COUNT] = {0};
	char *mail[] = {"finans@example.com", "Muhasebe <muh@example.com>"};
	const char *xlsx_name = "Tedarikçi bakiyeleri.xlsx";

	path_of(spool_dir, sizeof(spool_dir), "spool");
	put_file("r.xlsx", "PK fake");
	put_file("r.html", "<table></table>");
	path_of(xlsx, sizeof(xlsx), "r.xlsx");
	path_of(html, sizeof(html), "r.html");
	files[FMT_XLSX] = xlsx;
	files[FMT_HTML] = html;
	r.name = "tedarikci";
	r.title = "Tedarikçi bakiyeleri";
	r.formats = 1u << FMT_XLSX | 1u << FMT_HTML;
	r.attach = 1u << FMT_XLSX;
	r.mail = mail;
	r.nmail = 2;
	CHECK_INT(mailjob_report(spool_dir, &r, "03.12.2026", html, files, err,
				 sizeof(err)),
		  0);
	CHECK_INT(mailjob_notice(spool_dir, "it@example.com",
				 "sapb1fs: x failed", "it failed\n", err,
				 sizeof(err)),
		  0);
	CHECK_INT(spool_open(&sp, spool_dir, false), 0);
	CHECK_INT(spool_list(&sp, SPOOL_OUTBOX, &ids), 0);
	CHECK_INT(ids.n, 2);
	for (size_t i = 0; i < ids.n; i++) {
		uint64_t total = 0;

		CHECK_INT(
		    spool_job_load(&sp, SPOOL_OUTBOX, ids.v[i], &job, &why), 0);
		CHECK_INT(spool_job_files(&sp, SPOOL_OUTBOX, &job, NULL, &total,
					  &why),
			  0);
		if (job.notice) {
			CHECK_STR(job.to.v[0], "it@example.com");
			CHECK_STR(job.text, "notice.txt");
		} else {
			CHECK_INT(job.to.n, 2);
			CHECK_STR(job.to.v[1], "Muhasebe <muh@example.com>");
			CHECK_STR(job.subject,
				  "Tedarikçi bakiyeleri — 03.12.2026");
			CHECK_STR(job.body, "body.html");
			CHECK_INT(job.attach.n, 1);
			CHECK_STR(job.attach.v[0], xlsx_name);
			CHECK_INT(total, strlen("PK fake") +
					     strlen("<table></table>"));
		}
		spool_job_free(&job);
	}
	spool_strv_free(&ids);
	CHECK_INT(spool_list(&sp, SPOOL_TMP, &ids), 0);
	CHECK_INT(ids.n, 0);
	spool_strv_free(&ids);
	spool_close(&sp);
	strbuf_release(&why);

	/* a title that makes the attachment "body.html" moves the body */
	r.title = "body";
	r.attach = 1u << FMT_HTML;
	CHECK_INT(mailjob_report(spool_dir, &r, "03.12.2026", NULL, files, err,
				 sizeof(err)),
		  0);
}

/* --- catch-up ---------------------------------------------------------- */

static void test_missed(void)
{
	struct state_rec rec = {0};
	struct cron c;
	char err[256];
	struct tz *z = tz_load("UTC", err, sizeof(err));
	int64_t day = 86400, t0 = 1764720000; /* 2025-12-03 00:00Z */

	if (!z)
		return;
	CHECK_INT(cron_parse(&c, "0 7 * * *", err, sizeof(err)), 0);
	/* never seen: nothing to make up */
	CHECK_INT(timetable_missed(&c, z, NULL, t0 + 8 * 3600, day), 0);
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 8 * 3600, day), 0);
	/* ran at 07:00 the day before, stopped over today's 07:00 */
	rec.last_slot = t0 - day + 7 * 3600;
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 8 * 3600, day),
		  t0 + 7 * 3600);
	/* several missed: one run, for the latest */
	rec.last_slot = t0 - 5 * day + 7 * 3600;
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 8 * 3600, 10 * day),
		  t0 + 7 * 3600);
	/* outside catch_up, or catch_up 0 */
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 8 * 3600, 1800), 0);
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 8 * 3600, 0), 0);
	/* the last slot was handled */
	rec.last_slot = t0 + 7 * 3600;
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 8 * 3600, day), 0);
	/* first seen after yesterday's run time, stopped over today's */
	rec.last_slot = 0;
	rec.since = t0 - 3600;
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 8 * 3600, day),
		  t0 + 7 * 3600);
	/* every minute with a long catch_up: the latest minute */
	CHECK_INT(cron_parse(&c, "* * * * *", err, sizeof(err)), 0);
	rec.since = t0 - 300 * day;
	CHECK_INT(timetable_missed(&c, z, &rec, t0 + 90, 365 * day), t0 + 60);
	tz_free(z);
}

static void cleanup(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_state();
	test_history();
	test_names();
	test_mailjob();
	test_missed();
	cleanup();
	return tap_done("sched");
}
