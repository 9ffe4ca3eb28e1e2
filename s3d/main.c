/*
 * main.c - agora-s3d: read the [s3] section of the config file, open the
 * cluster, start civetweb on the configured addresses, and serve until
 * SIGTERM or SIGINT.
 */
#include <civetweb.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3d.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Load libagora-tls.so (tlscompat.c) before civetweb looks for OpenSSL:
 * from beside this program (a build tree), else from where it is
 * installed. Without it civetweb finds no usable libssl and TLS fails. */
static void load_tls_compat(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = 0;
		snprintf(path, sizeof(path), "%s/libagora-tls.so",
			 dirname(exe));
		if (dlopen(path, RTLD_NOW | RTLD_GLOBAL))
			return;
	}
	snprintf(path, sizeof(path), "%s/libagora-tls.so", AGORA_PKGLIBDIR);
	dlopen(path, RTLD_NOW | RTLD_GLOBAL);
}

static int append(char *dst, size_t size, const char *val, const char *suffix)
{
	size_t n = strlen(dst);
	int w = snprintf(dst + n, size - n, "%s%s%s", n ? "," : "", val,
			 suffix);

	return w < 0 || (size_t)w >= size - n ? -1 : 0;
}

/* Seconds, fractions allowed (0.5), into milliseconds: 1 ms to 1 h. */
static int parse_ms(const char *val, int *ms)
{
	char *end;
	double v = strtod(val, &end);

	if (end == val || *end || !(v >= 0.001 && v <= 3600))
		return -1;
	*ms = (int)(v * 1000 + 0.5);
	return 0;
}

/* Keys of [s3]; everything else in the file belongs to others. */
static int set_key(struct s3_conf *s, const char *key, char *val)
{
	char *tok, *save = NULL;

	if (!strcmp(key, "listen") || !strcmp(key, "listen_tls")) {
		const char *suffix = key[6] ? "s" : "";

		s->tls |= key[6] != 0;
		for (tok = strtok_r(val, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save))
			if (append(s->listen, sizeof(s->listen), tok, suffix))
				return -1;
		return 0;
	}
#define STR(name)                                                         \
	if (!strcmp(key, #name))                                          \
		return snprintf(s->name, sizeof(s->name), "%s", val) >=  \
			       (int)sizeof(s->name) ? -1 : 0;
	STR(certificate)
	STR(domain)
	STR(region)
	STR(pidfile)
	STR(log)
	STR(sse_key_file)
#undef STR
	if (!strcmp(key, "threads")) {
		s->threads = atoi(val);
		return s->threads > 0 && s->threads <= 16384 ? 0 : -1;
	}
	if (!strcmp(key, "timeout")) {
		s->timeout = atoi(val);
		return s->timeout > 0 ? 0 : -1;
	}
	if (!strcmp(key, "header_timeout"))
		return parse_ms(val, &s->header_ms);
	if (!strcmp(key, "keep_alive_timeout"))
		return parse_ms(val, &s->keep_alive_ms);
	if (!strcmp(key, "max_skew")) {
		s->max_skew = atoi(val);
		return s->max_skew > 0 ? 0 : -1;
	}
	return -1;
}

/* The [s3] section; the others belong to the core and other daemons. */
static int s3_key(void *arg, const char *section, const char *key, char *val,
		  int lineno)
{
	if (strcmp(section, "s3"))
		return 0;
	return set_key(arg, key, val) ? lineno : 0;
}

/* The SSE-S3 key: 64 hex digits (a newline may follow) in a file that
 * only its owner may read. */
static int load_cluster_key(struct s3_conf *s)
{
	const char *f = s->sse_key_file;
	char buf[80];
	struct stat st;
	FILE *fp = fopen(f, "r");
	size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
	int i, ok = fp && !fstat(fileno(fp), &st);

	if (fp)
		fclose(fp);
	if (!ok) {
		fprintf(stderr, "agora-s3d: sse_key_file %s: %s\n", f,
			strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		fprintf(stderr, "agora-s3d: sse_key_file %s: readable by "
			"others (chmod 600 it)\n", f);
		return -1;
	}
	buf[n] = 0;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	for (i = 0; i < 32 && n == 64; i++) {
		unsigned v;

		if (sscanf(buf + 2 * i, "%2x", &v) != 1)
			break;
		s->cluster_key[i] = (uint8_t)v;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (i != 32) {
		fprintf(stderr, "agora-s3d: sse_key_file %s: not 64 hex "
			"digits\n", f);
		return -1;
	}
	s->has_cluster_key = 1;
	return 0;
}

static int load_conf(const char *file, struct s3_conf *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	/* civetweb gives each connection a thread of its own for as long
	 * as the connection is open, headers not yet in included: the
	 * threads must outnumber the slow and idle connections a client
	 * can hold open for a header_timeout. Idle threads cost little:
	 * 100 KiB stacks (Debian's civetweb), a 16 KiB request buffer. */
	s->threads = 512;
	s->max_skew = 900;
	s->timeout = 30;
	s->header_ms = 5000;
	s->keep_alive_ms = 500;
	snprintf(s->region, sizeof(s->region), "us-east-1");
	rc = ag_config_walk(file, s3_key, s);
	if (rc > 0)
		fprintf(stderr, "agora-s3d: %s:%d: bad or unknown [s3] key\n",
			file, rc);
	if (rc)
		return -1;
	if (!*s->listen)
		snprintf(s->listen, sizeof(s->listen), "127.0.0.1:9000");
	return *s->sse_key_file ? load_cluster_key(s) : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: agora-s3d -c CONFIG [-d] [-p PIDFILE]\n"
		   "  -c CONFIG   cluster configuration with an [s3] section\n"
		   "  -d          detach once serving, write the pid file\n"
		   "  -p PIDFILE  pid file (default: [s3] pidfile)\n");
}

static int log_message(const struct mg_connection *conn, const char *msg)
{
	(void)conn;
	fprintf(stderr, "agora-s3d: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	const char *cfgfile = NULL, *pidfile = NULL;
	struct mg_callbacks cb = { .log_message = log_message,
				   .http_error = s3_http_error };
	struct sigaction sa = { .sa_handler = on_signal };
	struct ag_cluster *c = NULL;
	struct mg_context *ctx = NULL;
	struct s3_conf conf;
	char threads[16], header_ms[24], keep_alive_ms[24];
	const char *opts[32];
	int opt, n = 0, daemonize = 0, ready_fd = -1, rc = 1;

	while ((opt = getopt(argc, argv, "c:dp:h")) != -1) {
		switch (opt) {
		case 'c': cfgfile = optarg; break;
		case 'd': daemonize = 1; break;
		case 'p': pidfile = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfgfile || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load_conf(cfgfile, &conf))
		return 2;
	if (conf.tls && !*conf.certificate) {
		fprintf(stderr, "agora-s3d: listen_tls needs a certificate\n");
		return 2;
	}
	if (!pidfile && *conf.pidfile)
		pidfile = conf.pidfile;
	if (*conf.log) {
		int fd = open(conf.log, O_WRONLY | O_CREAT | O_APPEND |
					O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
			fprintf(stderr, "agora-s3d: %s: %s\n", conf.log,
				strerror(errno));
			return 2;
		}
		close(fd);
	}
	if (daemonize && (ready_fd = ag_daemon_detach()) < 0) {
		fprintf(stderr, "agora-s3d: fork: %s\n",
			ag_strerror(ready_fd));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = ag_cluster_open(cfgfile, AG_OPEN_WATCH | AG_OPEN_PRIVATE, &c);
	if (rc) {
		fprintf(stderr, "agora-s3d: cannot open the cluster: %s\n",
			ag_strerror(rc));
		rc = 1;
		goto out;
	}
	ag_cluster_set_origin(c, AG_PROTO_S3);
	snprintf(threads, sizeof(threads), "%d", conf.threads);
	opts[n++] = "listening_ports";
	opts[n++] = conf.listen;
	opts[n++] = "num_threads";
	opts[n++] = threads;
	opts[n++] = "enable_keep_alive";
	opts[n++] = "yes";
	/* civetweb 1.15 has one timeout for the headers, the TLS handshake,
	 * each body read and each send; it is the header deadline here,
	 * and body.c and http.c carry reads and sends over it up to
	 * [s3] timeout of silence. keep_alive_timeout_ms replaces it for
	 * the headers of the second and later requests of a connection. */
	snprintf(header_ms, sizeof(header_ms), "%d", conf.header_ms);
	opts[n++] = "request_timeout_ms";
	opts[n++] = header_ms;
	snprintf(keep_alive_ms, sizeof(keep_alive_ms), "%d",
		 conf.keep_alive_ms);
	opts[n++] = "keep_alive_timeout_ms";
	opts[n++] = keep_alive_ms;
	opts[n++] = "decode_url";
	opts[n++] = "no";
	/* headers and body leave in separate writes: without this, Nagle
	 * and delayed ACKs add 40 ms to every small reply */
	opts[n++] = "tcp_nodelay";
	opts[n++] = "1";
	/* civetweb answers CORS preflights itself, allowing everything,
	 * unless these are empty: each bucket's rules decide (cors.c) */
	opts[n++] = "access_control_allow_methods";
	opts[n++] = "";
	opts[n++] = "access_control_allow_origin";
	opts[n++] = "";
	if (*conf.certificate) {
		opts[n++] = "ssl_certificate";
		opts[n++] = conf.certificate;
	}
	opts[n] = NULL;
	/* civetweb loads OpenSSL itself at run time; when that fails it would
	 * still listen on the TLS ports and crash on the first handshake */
	if (*conf.certificate)
		load_tls_compat();
	if (*conf.certificate &&
	    !(mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS)) {
		fprintf(stderr, "agora-s3d: civetweb cannot load its TLS library "
			"(libssl.so, with libagora-tls.so in %s): HTTPS "
			"(listen_tls) is not available\n", AGORA_PKGLIBDIR);
		rc = 1;
		goto out;
	}
	if (!*conf.certificate)
		mg_init_library(0);
	ctx = mg_start(&cb, c, opts);
	if (!ctx) {
		fprintf(stderr, "agora-s3d: cannot listen on %s\n", conf.listen);
		rc = 1;
		goto out;
	}
	mg_set_request_handler(ctx, "/", s3_http_handle, &conf);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	fprintf(stderr, "agora-s3d: serving S3 on %s\n", conf.listen);
	ag_daemon_ready(ready_fd, 0, *conf.log != 0);
	while (!stopping)
		pause();
	rc = 0;
	if (pidfile)
		unlink(pidfile);
out:
	if (ctx)
		mg_stop(ctx);
	mg_exit_library();
	ag_cluster_close(c);
	return rc;
}
