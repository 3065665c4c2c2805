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
#include "src/cmd/accept.h"
#include "src/cmd/log.h"
#include "src/cmd/run.h"
#include "src/cmd/testhook.h"
#include "src/store/batchfile.h"
#include "src/store/file.h"
#include "src/x509/cert.h"
#include "src/x509/pkcs10.h"
#include "src/x509/ossl.h"

#define CSR_MAX (64 * 1024)
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

/* What a job does next. */
enum step { STEP_CREATE, STEP_DESCRIBE, STEP_DEACTIVATE, STEP_THING, STEP_PRINCIPAL, STEP_POLICY };

struct job {
	char *name; /* NAME of NAME.csr */
	struct tp_csr_info csr;
	enum step step;
	size_t policy;
	struct tp_batch_record rec;
	struct tp_issued_cert issued;
	struct tp_iot_request req;
	char *refused; /* why its certificate was refused */
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
	free(j->refused);
	tp_csr_info_free(&j->csr);
	tp_batch_record_free(&j->rec);
	tp_issued_cert_free(&j->issued);
	tp_iot_request_free(&j->req);
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
		fprintf(stderr, "%stpm-provision batch: %s.csr: %s\n", tp_prio(TP_PRIO_ERR), j->name, error);
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

static int attach_next(struct batch *b, struct job *j, struct tp_error *err);

/* The time now into a record's field. */
static int stamp(char **field, struct tp_error *err)
{
	char now[TP_TIME_MAX];

	tp_format_time(time(NULL), now);
	free(*field);
	*field = strdup(now);
	return *field ? 0 : tp_error_oom(err);
}

/* A fresh request: journaled before it goes out. */
static int start_fresh(struct batch *b, struct job *j, struct tp_error *err)
{
	j->rec.phase = TP_BATCH_SENT;
	if (stamp(&j->rec.sent_at, err) < 0)
		return -1;
	j->step = STEP_CREATE;
	if (tp_batch_pending_save(b->run->o.out_dir, j->name, &j->rec, err) < 0)
		return -1;
	b->unsynced = true; /* commit() syncs it before the request goes */
	return tp_iot_request_create(j->csr.pem, &j->req, err);
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
	if (r == 0 && j->rec.phase == TP_BATCH_RECEIVED)
		r = attach_next(b, j, err); /* received and checked: resume */
	else
		r = start_fresh(b, j, err) < 0 ? -1 : 1;
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
		*req = j->req.http;
		*ret_job = j;
		return 1;
	}
}

/* "METHOD URL: HTTP status ..." for a failed answer to the job's request. */
static void answer_failed(struct batch *b, struct job *j, const struct tp_answer *a, const struct tp_error *e)
{
	struct tp_error fe = { 0 };
	_cleanup_free_ char *what = NULL;

	if (!a) {
		failed(b, j, e->exit_code, e->msg);
		return;
	}
	if (asprintf(&what, "%s %s%s", j->req.http.method, b->run->svc.endpoint, j->req.path) < 0)
		what = NULL;
	if (j->step == STEP_POLICY)
		tp_iot_policy_failure(a, b->run->svc.endpoint, j->req.path, b->run->o.policies[j->policy], &fe);
	else
		tp_answer_fail(a, what ? what : "the request", &fe);
	failed(b, j, fe.exit_code, fe.msg);
}

/* Done: NAME.json after NAME.cert.pem; the journal goes once both are
 * durable (commit()). */
static int finish(struct batch *b, struct job *j, struct tp_error *err)
{
	j->rec.phase = TP_BATCH_DONE;
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

static bool wants_attachments(const struct tp_options *o)
{
	return o->attach_thing || (o->policies && o->policies[0]);
}

/* The attachments asked for, one request each, then finish. */
static int attach_next(struct batch *b, struct job *j, struct tp_error *err)
{
	const struct tp_options *o = &b->run->o;
	const char *arn = j->rec.certificate_arn;

	tp_iot_request_free(&j->req);
	if ((o->attach_thing && j->step < STEP_THING) || (o->policies && o->policies[j->policy])) {
		if (!arn) {
			failed(b, j, EX_DATAERR, "the service gave no ARN: it cannot be attached");
			return 0;
		}
		if (o->attach_thing && j->step < STEP_THING) {
			j->step = STEP_THING;
			return tp_iot_request_create_thing(j->csr.cn, &j->req, err) < 0 ? -1 : 1;
		}
		j->step = STEP_POLICY;
		return tp_iot_request_attach_policy(o->policies[j->policy], arn, &j->req, err) < 0 ? -1 : 1;
	}
	return finish(b, j, err);
}

/* A certificate that failed the check: deactivated at the service when it
 * is active, so that nobody uses it; a rerun sends a fresh request. */
static int refuse(struct batch *b, struct job *j, const struct tp_error *why, struct tp_error *err)
{
	if (!(j->refused = strdup(why->msg)))
		return tp_error_oom(err);
	if (tp_batch_pending_remove(b->run->o.out_dir, j->name, true, err) < 0)
		return -1;
	if (j->issued.status && strcmp(j->issued.status, "ACTIVE") != 0) {
		failed(b, j, EX_DATAERR, j->refused);
		return 0;
	}
	tp_iot_request_free(&j->req);
	j->step = STEP_DEACTIVATE;
	return tp_iot_request_update(j->issued.id, "INACTIVE", &j->req, err) < 0 ? -1 : 1;
}

/* The certificate the service issued, checked against the CSR's key,
 * written and journaled before anything else is done with it. */
static int accept(struct batch *b, struct job *j, struct tp_error *err)
{
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_free_ char *pem = NULL, *file = NULL;
	struct tp_error why = { 0 };
	struct tp_batch_record *r = &j->rec;

	if (tp_accept_certificate(&j->issued, j->csr.key, "ACTIVE", &cert, &why) < 0)
		return refuse(b, j, &why, err);
	if (tp_cert_to_pem(cert, &pem, err) < 0 || asprintf(&file, "%s.cert.pem", j->name) < 0 ||
	    tp_write_file_unsynced(b->run->o.out_dir, file, pem, strlen(pem), 0644, err) < 0)
		return -1;
	b->unsynced = true;
	r->phase = TP_BATCH_RECEIVED;
	r->certificate_id = TAKE_PTR(j->issued.id);
	r->certificate_arn = TAKE_PTR(j->issued.arn);
	r->status = TAKE_PTR(j->issued.status);
	if (!r->status && !(r->status = strdup("ACTIVE")))
		return tp_error_oom(err);
	/* With attachments to make, a rerun must find the certificate. */
	if (wants_attachments(&b->run->o) && tp_batch_pending_save(b->run->o.out_dir, j->name, r, err) < 0)
		return -1;
	return attach_next(b, j, err);
}

/* The create answer: the certificate, or only its id (a describe then
 * fetches the rest). */
static int created(struct batch *b, struct job *j, const struct tp_answer *a, struct tp_error *err)
{
	struct tp_error e = { 0 };

	if (tp_iot_answer_issued(a, &j->issued, &e) < 0) {
		failed(b, j, EX_DATAERR, e.msg); /* NAME.pending stays: unanswered */
		return 0;
	}
	if (j->issued.pem)
		return accept(b, j, err);
	tp_iot_request_free(&j->req);
	j->step = STEP_DESCRIBE;
	return tp_iot_request_describe(j->issued.id, &j->req, err) < 0 ? -1 : 1;
}

static int described(struct batch *b, struct job *j, const struct tp_answer *a, struct tp_error *err)
{
	struct tp_issued_cert d = { 0 };
	struct tp_error e = { 0 };

	if (tp_iot_answer_described(a, &d, &e) < 0) {
		failed(b, j, EX_DATAERR, e.msg);
		return 0;
	}
	j->issued.pem = TAKE_PTR(d.pem);
	if (!j->issued.arn)
		j->issued.arn = TAKE_PTR(d.arn);
	if (!j->issued.status)
		j->issued.status = TAKE_PTR(d.status);
	tp_issued_cert_free(&d);
	return accept(b, j, err);
}

/* The deactivation of a refused certificate ended: the CSR failed. */
static void deactivated(struct batch *b, struct job *j, const struct tp_answer *a, const struct tp_error *e)
{
	_cleanup_free_ char *why = NULL;
	int n;

	if (a && !a->failed)
		n = asprintf(&why, "%s; certificate %s was set INACTIVE", j->refused, j->issued.id);
	else
		n = asprintf(&why, "%s; deactivating certificate %s failed, deactivate it by hand: %s", j->refused,
			     j->issued.id, a ? "the service refused" : e->msg);
	failed(b, j, EX_DATAERR, n < 0 ? j->refused : why);
}

/* The job's request ended: 1 with the next request in j->req, 0 when the
 * job is over (counted and reported), -1 to stop the batch. */
static int advance(struct batch *b, struct job *j, const struct tp_answer *a, const struct tp_error *e,
		   struct tp_error *err)
{
	if (j->step == STEP_DEACTIVATE) {
		deactivated(b, j, a, e);
		return 0;
	}
	if (!a || a->failed) {
		/* An error answer to the create created nothing; without an
		 * answer, NAME.pending keeps it from being sent twice. */
		if (a && j->step == STEP_CREATE && tp_batch_pending_remove(b->run->o.out_dir, j->name, true, err) < 0)
			return -1;
		answer_failed(b, j, a, e);
		return 0;
	}
	switch (j->step) {
	case STEP_CREATE:
		return created(b, j, a, err);
	case STEP_DESCRIBE:
		return described(b, j, a, err);
	case STEP_THING:
		tp_iot_request_free(&j->req);
		j->step = STEP_PRINCIPAL;
		return tp_iot_request_attach_thing(j->csr.cn, j->rec.certificate_arn, &j->req, err) < 0 ? -1 : 1;
	case STEP_PRINCIPAL:
		if (!(j->rec.attached_thing = strdup(j->csr.cn)))
			return tp_error_oom(err);
		return attach_next(b, j, err);
	default: /* STEP_POLICY */
		if (tp_strv_push_copy(&j->rec.policies, b->run->o.policies[j->policy++]) < 0)
			return tp_error_oom(err);
		return attach_next(b, j, err);
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
	int r = advance(user, j, a, e, err);

	if (r == 1) {
		*req = j->req.http;
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

/* Why a lock: two batches on one output directory would send the same
 * CSRs twice. */
static int begin(struct tp_run *run, struct batch *b, struct tp_error *err)
{
	const struct tp_options *o = &run->o;

	if (tp_mkdir_safe(o->out_dir, err) < 0 ||
	    tp_lock_file(o->out_dir, LOCK_FILE, o->deadline, NULL, &run->lock, err) < 0)
		return tp_run_hint_out_dir(err);
	if (tp_run_load_creds(run, err) < 0)
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
