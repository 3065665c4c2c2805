/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision batch: certificates for a directory of CSRs, on a build
 * host or factory server (no TPM).  Each NAME.csr gets NAME.cert.pem and
 * NAME.json in the output directory, written atomically.  The directory is
 * streamed (memory stays flat in the number of CSRs), requests go out
 * concurrently (tp_multi_run), and each request is journaled in
 * NAME.pending before it is sent: a rerun skips what is done, resumes what
 * was received, and never sends a CSR again that got no answer unless
 * told to (--resend-unanswered).
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/aws/iot.h"
#include "src/aws/multi.h"
#include "src/base/cleanup.h"
#include "src/base/strv.h"
#include "src/base/timefmt.h"
#include "src/cmd/certflow.h"
#include "src/cmd/log.h"
#include "src/cmd/run.h"
#include "src/cmd/testhook.h"
#include "src/store/batchfile.h"
#include "src/store/file.h"
#include "src/x509/cert.h"
#include "src/x509/pkcs10.h"
#include "src/x509/ossl.h"

#define CSR_MAX (64 * 1024)
/* Why a lock: two batches on one output directory would send the same
 * CSRs twice. */
#define LOCK_FILE "batch.lock"

#define DEFAULT_PARALLEL 10
#define STR(x) #x
#define XSTR(x) STR(x)

/* The options only batch takes. */
enum { OPT_CSR_DIR, OPT_PARALLEL, OPT_RATE, OPT_RESEND_UNANSWERED };
static const struct tp_opt_def batch_options[] = {
	[OPT_CSR_DIR] = { "csr-dir", "DIR", TP_KIND_STRING, 0, true, "the directory of *.csr files" },
	[OPT_PARALLEL] = { "parallel", "N", TP_KIND_NUMBER, 0, false,
			   "requests in flight at most (default " XSTR(DEFAULT_PARALLEL) ")" },
	[OPT_RATE] = { "rate", "R", TP_KIND_NUMBER, 0, false,
		       "requests per second at most (default: as fast as the service allows)" },
	[OPT_RESEND_UNANSWERED] = { "resend-unanswered", "", TP_KIND_FLAG, 0, true,
				    "send again the CSRs an interrupted batch got no answer for", true },
	{ NULL },
};

/* --csr-dir, --out-dir (given, never the device's default), --parallel,
 * --rate. */
static int check_batch_options(struct tp_raw_options *raw, struct tp_options *o, struct tp_error *err)
{
	const char *dir = tp_raw_str(raw, TP_OPT_OWN(OPT_CSR_DIR)), *rate = tp_raw_str(raw, TP_OPT_OWN(OPT_RATE));
	unsigned long n = DEFAULT_PARALLEL;
	char *end;

	o->resend_unanswered = tp_raw_flag(raw, TP_OPT_OWN(OPT_RESEND_UNANSWERED));
	if (!dir || !*dir)
		return tp_error_set(err, EX_USAGE, "batch needs --csr-dir DIR");
	if (raw->v[TP_OPT_OUT_DIR].origin == TP_FROM_DEFAULT)
		return tp_error_set(err, EX_USAGE,
				    "batch needs --out-dir DIR (the device's directory is no place for it)");
	if (tp_raw_str(raw, TP_OPT_OWN(OPT_PARALLEL)) &&
	    tp_raw_count(raw, TP_OPT_OWN(OPT_PARALLEL), 1, 1000, &n, err) < 0)
		return -1;
	o->parallel = (unsigned)n;
	if (rate) {
		o->rate = strtod(rate, &end);
		if (!isdigit((unsigned char)*rate) || *end || !(o->rate >= 0.1 && o->rate <= 100000))
			return tp_raw_bad_value(raw, TP_OPT_OWN(OPT_RATE),
						"is not a number of requests per second from 0.1 to 100000", err);
	}
	o->csr_dir = tp_raw_take_str(raw, TP_OPT_OWN(OPT_CSR_DIR));
	return 0;
}

static void batch_usage(const struct tp_command *cmd)
{
	printf("usage: tpm-provision batch --csr-dir DIR --out-dir DIR [--parallel N] [--rate R] [options]\n\n"
	       "Have AWS IoT issue a certificate (CreateCertificateFromCsr) for every DIR/*.csr, writing\n"
	       "NAME.cert.pem and NAME.json to the output directory.  Needs no TPM.  A rerun skips\n"
	       "the CSRs that have a result.\n\n"
	       "options:\n");
	tp_options_usage(stdout, cmd);
}

/* One CSR: its file, its journal, and its record of the certificate
 * protocol. */
struct job {
	struct batch *b;
	char *name; /* NAME of NAME.csr */
	struct tp_csr_info csr;
	struct tp_batch_record rec;
	struct tp_certflow flow;
};

struct batch {
	struct tp_run *run;
	DIR *dir;
	unsigned long total, done_before, written, failed, unanswered;
	int worst; /* the exit code for the CSRs that failed */
	double start;
	bool tty;
	struct tp_multi_stats st; /* the client's, as of the last progress */
	bool unsynced;		  /* files written since the last directory sync */
	char **finished;	  /* NAMEs whose NAME.pending goes after that sync */
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->name);
	tp_csr_info_free(&j->csr);
	tp_batch_record_free(&j->rec);
	tp_certflow_free(&j->flow);
	free(j);
}

static void job_freep(struct job **j)
{
	job_free(*j);
}

/* A CSR's outcome on stdout (--json) or, for a failure, stderr. */
static void print_outcome(struct batch *b, const struct job *j, const char *error)
{
	_cleanup_free_ char *line = NULL;
	struct tp_error e = { 0 };

	if (b->tty)
		fputs("\r\033[K", stderr);
	if (b->run->o.json && tp_batch_record_line(&j->rec, error, &line, &e) == 0)
		printf("%s\n", line);
	if (error)
		tp_log(TP_PRIO_ERR, "batch: %s.csr: %s", j->name, error);
}

/* A CSR that ends without a certificate; code says whether a rerun may
 * help (EX_UNAVAILABLE, EX_TEMPFAIL) or a person must look (others). */
static void failed(struct batch *b, struct job *j, int code, const char *why)
{
	b->failed++;
	if (b->worst == 0 || (code != EX_UNAVAILABLE && code != EX_TEMPFAIL))
		b->worst = code;
	print_outcome(b, j, why);
}

/* The CSR file, checked: one PEM request whose signature verifies, and a
 * CN that can name a thing when things are attached. */
static int read_csr(struct batch *b, struct job *j, struct tp_error *err)
{
	_cleanup_free_ char *file = NULL, *buf = NULL;
	size_t len = 0;
	int r;

	if (asprintf(&file, "%s.csr", j->name) < 0)
		return tp_error_oom(err);
	r = tp_read_file_in(b->run->o.csr_dir, file, CSR_MAX, &buf, &len, err);
	if (r == TP_MISSING)
		return tp_error_set(err, EX_DATAERR, "it went away");
	if (r < 0 || tp_csr_parse(buf, len, &j->csr, err) < 0)
		return -1;
	if (b->run->o.attach_thing && (!j->csr.cn || !tp_iot_safe_segment(j->csr.cn, 128)))
		return tp_error_set(err, EX_DATAERR,
				    "its subject's CN cannot be a thing name (--attach-thing: 1-128 of letters, "
				    "digits, - _ .)");
	return 0;
}

/* A copy of value (or NULL) into a record's field. */
static int set_field(char **field, const char *value, struct tp_error *err)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
	return *field || !value ? 0 : tp_error_oom(err);
}

/* The time now into a record's field. */
static int stamp(char **field, struct tp_error *err)
{
	char now[TP_TIME_MAX];

	tp_format_time(time(NULL), now);
	return set_field(field, now, err);
}

/* The certificate, checked: NAME.cert.pem, and with attachments to make,
 * NAME.pending with it, so that a rerun finds it. */
static int received(struct job *j, const struct tp_certflow *f, struct tp_error *err)
{
	const char *out = j->b->run->o.out_dir;
	_cleanup_free_ char *pem = NULL, *file = NULL;
	struct tp_batch_record *r = &j->rec;

	if (tp_cert_to_pem(f->cert, &pem, err) < 0 || asprintf(&file, "%s.cert.pem", j->name) < 0 ||
	    tp_write_file_unsynced(out, file, pem, strlen(pem), 0644, err) < 0)
		return -1;
	j->b->unsynced = true;
	r->phase = TP_BATCH_RECEIVED;
	if (set_field(&r->certificate_id, f->issued.id, err) < 0 ||
	    set_field(&r->certificate_arn, f->issued.arn, err) < 0 ||
	    set_field(&r->status, f->issued.status ? f->issued.status : "ACTIVE", err) < 0)
		return -1;
	return tp_certflow_attach_wanted(f) ? tp_batch_pending_save(out, j->name, r, err) : 0;
}

/* NAME.pending follows the record: the request sent, the certificate
 * received, or refused (a rerun then sends a fresh request).  Written
 * without a directory sync: commit() makes them durable, once for all,
 * before their requests go. */
static int journal(void *ctx, const struct tp_certflow *f, enum tp_certflow_event event, struct tp_error *err)
{
	struct job *j = ctx;
	struct tp_batch_record *r = &j->rec;

	if (event == TP_CERTFLOW_RECEIVED)
		return received(j, f, err);
	if (event == TP_CERTFLOW_ATTACHED) /* attaching again is harmless: a rerun does */
		return 0;
	if (event == TP_CERTFLOW_SENDING) {
		/* A fresh request: nothing of a refused one stays. */
		char *csr = TAKE_PTR(r->csr);

		tp_batch_record_free(r);
		r->csr = csr;
		r->phase = TP_BATCH_SENT;
		if (stamp(&r->sent_at, err) < 0)
			return -1;
	} else {
		r->phase = TP_BATCH_REFUSED;
		if (set_field(&r->certificate_id, f->issued.id, err) < 0 ||
		    set_field(&r->refused_because, f->why.msg, err) < 0)
			return -1;
	}
	if (tp_batch_pending_save(j->b->run->o.out_dir, j->name, r, err) < 0)
		return -1;
	j->b->unsynced = true;
	return 0;
}

/* The certificate an interrupted batch received and checked (it is in
 * NAME.cert.pem): the attachments still missing. */
static int resume(struct job *j, struct tp_error *err)
{
	struct tp_batch_record *r = &j->rec;
	struct tp_issued_cert c = { 0 };
	struct tp_attached done = { .thing = r->attached_thing, .policies = r->policies };

	/* done takes them: NAME.json gets what the record has at the end. */
	r->attached_thing = NULL;
	r->policies = NULL;
	if (set_field(&c.id, r->certificate_id, err) < 0 || set_field(&c.arn, r->certificate_arn, err) < 0 ||
	    set_field(&c.status, r->status, err) < 0) {
		tp_issued_cert_free(&c);
		tp_attached_free(&done);
		return -1;
	}
	return tp_certflow_resume(&j->flow, &c, &done, true, err);
}

/* Done: NAME.json after NAME.cert.pem; the journal goes once both are
 * durable (commit()). */
static int finish(struct batch *b, struct job *j, struct tp_error *err)
{
	j->rec.phase = TP_BATCH_DONE;
	j->rec.attached_thing = TAKE_PTR(j->flow.attached.thing);
	j->rec.policies = TAKE_PTR(j->flow.attached.policies);
	if (stamp(&j->rec.done_at, err) < 0)
		return -1;
	if (tp_batch_result_save(b->run->o.out_dir, j->name, &j->rec, err) < 0)
		return -1;
	tp_test_crash_point("batch-result-written");
	if (tp_strv_push_copy(&b->finished, j->name) < 0)
		return tp_error_oom(err);
	b->unsynced = true;
	b->written++;
	print_outcome(b, j, NULL);
	return 0;
}

/* The record's start or answer returned r: 1 with its next request, 0
 * when the CSR is over (finished, or failed and reported), -1 to stop the
 * batch. */
static int settle(struct batch *b, struct job *j, int r, struct tp_error *err)
{
	const struct tp_certflow *f = &j->flow;

	if (r != 0)
		return r;
	if (f->step == TP_CERTFLOW_ACCEPTED)
		return finish(b, j, err);
	/* An error answer to the create created nothing; without an answer,
	 * NAME.pending keeps it from being sent twice. */
	if (f->step == TP_CERTFLOW_FAILED && f->create_status &&
	    tp_batch_pending_remove(b->run->o.out_dir, j->name, true, err) < 0)
		return -1;
	failed(b, j, f->why.exit_code, f->why.msg);
	return 0;
}

/* The CSR's record of the certificate protocol, from its first request:
 * the attachments still missing of a certificate received before, or a
 * fresh request. */
static int start(struct batch *b, struct job *j, bool received, struct tp_error *err)
{
	const struct tp_options *o = &b->run->o;

	j->flow = (struct tp_certflow){ .key = j->csr.key,
					.status = "ACTIVE",
					.thing = o->attach_thing ? j->csr.cn : NULL,
					.policies = o->policies,
					.endpoint = b->run->svc.endpoint,
					.journal = journal,
					.ctx = j };
	return settle(b, j, received ? resume(j, err) : tp_certflow_request(&j->flow, j->csr.pem, err), err);
}

/* A done CSR whose NAME.pending is still there: the batch before was
 * stopped after writing NAME.json and before the directory sync after
 * which the journal goes (commit()).  The journal goes now, the same way,
 * so that it is neither left behind nor taken for a request that got no
 * answer. */
static int forget_journal_of_done(struct batch *b, const char *name, struct tp_error *err)
{
	if (!tp_batch_pending_exists(b->run->o.out_dir, name))
		return 0;
	if (tp_strv_push_copy(&b->finished, name) < 0)
		return tp_error_oom(err);
	b->unsynced = true;
	return 0;
}

/* A job for NAME: 1 with its first request, 0 when it needs none (done
 * before, or counted as failed and reported here), -1 to stop. */
static int prepare_job(struct batch *b, char *name, struct job **ret, struct tp_error *err)
{
	_cleanup_(job_freep) struct job *j = calloc(1, sizeof(*j));
	const char *out = b->run->o.out_dir;
	struct tp_batch_record pending = { 0 };
	struct tp_error e = { 0 };
	int r;

	if (!j) {
		free(name);
		return tp_error_oom(err);
	}
	j->b = b;
	j->name = name;
	if (asprintf(&j->rec.csr, "%s.csr", name) < 0) {
		j->rec.csr = NULL;
		return tp_error_oom(err);
	}
	if (tp_batch_done(out, name)) {
		b->done_before++;
		return forget_journal_of_done(b, name, err);
	}
	r = tp_batch_pending_load(out, name, &pending, &e);
	if (r == 0) {
		tp_batch_record_free(&j->rec);
		j->rec = pending;
	}
	if (r == 0 && j->rec.phase == TP_BATCH_SENT && !b->run->o.resend_unanswered) {
		b->unanswered++;
		failed(b, j, EX_DATAERR,
		       "an interrupted batch sent it and got no answer (it may have left a certificate at the "
		       "service): not sent again; --resend-unanswered sends it");
		return 0;
	}
	if (r < 0 || read_csr(b, j, &e) < 0) {
		failed(b, j, e.exit_code, e.msg);
		return 0;
	}
	r = start(b, j, r == 0 && j->rec.phase == TP_BATCH_RECEIVED, err);
	if (r == 1)
		*ret = TAKE_PTR(j);
	return r;
}

/* The next NAME.csr of the directory: 1, or 0 at its end. */
static int next_csr_name(struct batch *b, char **ret_name, struct tp_error *err)
{
	struct dirent *d;
	size_t n;

	while ((d = readdir(b->dir))) {
		n = strlen(d->d_name);
		if (n <= 4 || strcmp(d->d_name + n - 4, ".csr") != 0)
			continue;
		*ret_name = strndup(d->d_name, n - 4);
		return *ret_name ? 1 : tp_error_oom(err);
	}
	return 0;
}

static int next(void *user, struct tp_http_request *req, void **ret_job, struct tp_error *err)
{
	struct batch *b = user;
	struct job *j = NULL;
	char *name;
	int r;

	for (;;) {
		r = next_csr_name(b, &name, err);
		if (r <= 0)
			return r;
		r = prepare_job(b, name, &j, err);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		*req = j->flow.req.http;
		*ret_job = j;
		return 1;
	}
}

/* Group commit, before any request that was just prepared goes out: one
 * directory sync makes every NAME.pending, NAME.cert.pem and NAME.json
 * written since the last one durable; only then do the finished CSRs'
 * journals go (ext4 without a journal may otherwise keep the removal and
 * lose the rename). */
static int commit(void *user, struct tp_error *err)
{
	struct batch *b = user;
	char **name;

	if (!b->unsynced)
		return 0;
	if (tp_sync_dir(b->run->o.out_dir, err) < 0)
		return -1;
	b->unsynced = false;
	for (name = b->finished; name && *name; name++)
		if (tp_batch_pending_remove(b->run->o.out_dir, *name, false, err) < 0)
			return -1;
	tp_strv_free(b->finished);
	b->finished = NULL;
	return 0;
}

static int done(void *user, void *job, const struct tp_answer *a, const struct tp_error *e, struct tp_http_request *req,
		struct tp_error *err)
{
	struct job *j = job;
	int r = settle(user, j, tp_certflow_answer(&j->flow, a, e, err), err);

	if (r == 1) {
		*req = j->flow.req.http;
		return 1;
	}
	job_free(j);
	return r;
}

/* On a terminal: done / failed / total, the rate, the time left. */
static void progress(void *user, const struct tp_multi_stats *st)
{
	struct batch *b = user;
	unsigned long total = b->total - b->done_before, finished = b->written + b->failed;
	double secs = tp_now_seconds() - b->start, rate = secs > 0 ? (double)b->written / secs : 0;

	b->st = *st;
	if (!b->tty)
		return;
	fprintf(stderr, "\r\033[K%lu written, %lu failed of %lu; %.1f/s", b->written, b->failed, total, rate);
	if (st->throttled)
		fprintf(stderr, "; throttled %lu times, now at %.1f/s", st->throttled, st->rate_limit);
	if (rate > 0 && total > finished)
		fprintf(stderr, "; about %.0fs left", (double)(total - finished) / rate);
	fflush(stderr);
}

/* How many CSRs there are, for the progress line; then back to the start. */
static unsigned long count_csrs(DIR *dir)
{
	unsigned long n = 0;
	struct dirent *d;
	size_t len;

	while ((d = readdir(dir))) {
		len = strlen(d->d_name);
		n += len > 4 && strcmp(d->d_name + len - 4, ".csr") == 0;
	}
	rewinddir(dir);
	return n;
}

static void summary(const struct batch *b)
{
	double secs = tp_now_seconds() - b->start;

	if (b->tty)
		fputs("\r\033[K", stderr);
	tp_log(TP_PRIO_NOTICE,
	       "batch: %lu of %lu CSRs got a certificate (%lu written now, %lu before), %lu failed (%lu "
	       "unanswered) in %.1fs, %.1f certificates/s",
	       b->written + b->done_before, b->total, b->written, b->done_before, b->failed, b->unanswered, secs,
	       secs > 0 ? (double)b->written / secs : 0.0);
	if (b->st.retried)
		tp_log(TP_PRIO_NOTICE, "batch: %lu attempts retried; the service throttled %lu (-v shows each retry)",
		       b->st.retried, b->st.throttled);
}

static int begin(struct tp_run *run, struct batch *b, struct tp_error *err)
{
	const struct tp_options *o = &run->o;

	if (tp_run_lock(run, LOCK_FILE, false, err) < 0 || tp_run_load_creds(run, err) < 0)
		return -1;
	/* A batch retries many requests at once: a line each only with -v
	 * (as debug), the summary counts them. */
	run->svc.note_retry = run->svc.note_debug;
	b->dir = opendir(o->csr_dir);
	if (!b->dir)
		return tp_error_set(err, EX_CONFIG, "--csr-dir %s: %m", o->csr_dir);
	b->total = count_csrs(b->dir);
	return 0;
}

static int batch(struct tp_run *run, struct tp_error *err)
{
	struct batch b = { .run = run, .start = tp_now_seconds(), .tty = isatty(STDERR_FILENO) };
	const struct tp_multi_limits limits = { .parallel = run->o.parallel, .rate = run->o.rate };
	const struct tp_multi_ops ops = { .next = next, .done = done, .commit = commit, .progress = progress };
	int r;

	r = begin(run, &b, err);
	if (r == 0)
		r = tp_multi_run(&run->svc, &limits, &ops, &b, err);
	if (r < 0) /* what was finished before the stop */
		commit(&b, &(struct tp_error){ 0 });
	tp_strv_free(b.finished);
	if (b.dir) {
		closedir(b.dir);
		summary(&b);
	}
	if (r == 0 && b.failed)
		return tp_error_set(err, b.worst ? b.worst : EX_SOFTWARE,
				    "%lu of %lu CSRs have no certificate (each is named above)", b.failed, b.total);
	return r;
}

static int cmd_batch(const struct tp_command *cmd, int argc, char **argv, struct tp_error *err)
{
	return tp_run_plain(cmd, argc, argv, batch_usage, batch, err);
}

const struct tp_command_impl tp_cmd_batch = {
	.run = cmd_batch,
	.options = batch_options,
	.check_options = check_batch_options,
};
