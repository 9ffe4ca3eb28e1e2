/*
 * bench/civet_null.c - the HTTP ceiling for agora-s3d: a civetweb server
 * that stores nothing. It accepts any request, reads and discards the
 * body, and answers 200; a GET gets as many bytes (of one static buffer)
 * as the last PUT sent, or -n bytes before any PUT. bench/s3.sh runs the
 * same load (s3load) against it and against agora-s3d with the same
 * thread count: what is left is the cost of S3 and of storing.
 *
 *   civet_null [-l 127.0.0.1:8090] [-t THREADS] [-n BYTES]
 *
 * Runs until SIGINT or SIGTERM. Prints "listening on ADDR" once ready.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>

#define BODY_MAX (64u << 20)

static char body[BODY_MAX];
/* what a GET returns: the size of the last PUT (or POST) body */
static atomic_size_t get_size;

static size_t discard_body(struct mg_connection *conn)
{
	static _Thread_local char sink[1 << 16];
	size_t total = 0;
	int n;

	while ((n = mg_read(conn, sink, sizeof(sink))) > 0)
		total += (size_t)n;
	return total;
}

static int handle(struct mg_connection *conn, void *cbdata)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	size_t len = 0;
	size_t got;

	(void)cbdata;
	got = discard_body(conn);
	if (strcmp(ri->request_method, "PUT") == 0 ||
	    strcmp(ri->request_method, "POST") == 0)
		atomic_store(&get_size, got);
	else if (strcmp(ri->request_method, "GET") == 0)
		len = atomic_load(&get_size);
	if (len > BODY_MAX)
		len = BODY_MAX;
	/* headers and body in one write when small: no Nagle stall either way
	 * (tcp_nodelay is set), but one syscall fewer */
	mg_printf(conn,
		  "HTTP/1.1 200 OK\r\n"
		  "Content-Length: %zu\r\n"
		  "ETag: \"0123456789abcdef0123456789abcdef\"\r\n"
		  "Content-Type: application/octet-stream\r\n"
		  "Connection: keep-alive\r\n\r\n",
		  len);
	if (len && strcmp(ri->request_method, "HEAD") != 0)
		mg_write(conn, body, len);
	return 200;
}

static void usage(void)
{
	fprintf(stderr, "usage: civet_null [-l ADDR:PORT] [-t THREADS] [-n BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8090";
	const char *threads = "8";
	struct mg_callbacks callbacks;
	struct mg_context *ctx;
	sigset_t sigs;
	char *end;
	int opt, sig;

	atomic_store(&get_size, 4096);
	while ((opt = getopt(argc, argv, "l:t:n:")) != -1) {
		switch (opt) {
		case 'l':
			listen = optarg;
			break;
		case 't':
			threads = optarg;
			break;
		case 'n':
			errno = 0;
			atomic_store(&get_size, strtoull(optarg, &end, 0));
			if (errno || *end || atomic_load(&get_size) > BODY_MAX)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	memset(body, 'x', sizeof(body));

	/* signals for sigwait, blocked before civetweb starts its threads */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	const char *options[] = {
		"listening_ports", listen,
		"num_threads", threads,
		"enable_keep_alive", "yes",
		"keep_alive_timeout_ms", "60000",
		"tcp_nodelay", "1",
		"request_timeout_ms", "60000",
		NULL,
	};
	mg_init_library(0);
	memset(&callbacks, 0, sizeof(callbacks));
	ctx = mg_start(&callbacks, NULL, options);
	if (!ctx) {
		fprintf(stderr, "civet_null: cannot listen on %s\n", listen);
		return 1;
	}
	mg_set_request_handler(ctx, "/", handle, NULL);
	printf("listening on %s, %s threads\n", listen, threads);
	fflush(stdout);

	sigwait(&sigs, &sig);
	mg_stop(ctx);
	mg_exit_library();
	return 0;
}
