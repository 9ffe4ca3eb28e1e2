/*
 * agora_events.c - agora events (the event log as JSON lines, or
 * followed as commits come), agora trigger (add, list, remove, run the
 * deliverer) and agora catalog (a SQLite catalog kept from the log):
 * option parsing and printing over the core's calls (events.c,
 * trigger.c, catalog.c). SIGINT and SIGTERM stop a follower or a
 * watching deliverer between two events.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora_events.h"

static struct {
	int follow;
	unsigned long long since;
	const char *prefix, *suffix, *on, *exec, *webhook, *db;
	int failures, retry_ms, lease_s;
} opts;

static volatile int stop;

int agora_events_opt(int opt, const char *arg)
{
	switch (opt) {
	case 0x100: opts.follow = 1; break;
	case 0x101: opts.since = strtoull(arg, NULL, 10); break;
	case 0x102: opts.prefix = arg; break;
	case 0x103: opts.suffix = arg; break;
	case 0x104: opts.on = arg; break;
	case 0x105: opts.exec = arg; break;
	case 0x106: opts.webhook = arg; break;
	case 0x107: opts.failures = atoi(arg); break;
	case 0x108: opts.retry_ms = atoi(arg); break;
	case 0x109: opts.lease_s = atoi(arg); break;
	case 0x10a: opts.db = arg; break;
	default: return -1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGINT and SIGTERM set stop; no SA_RESTART, so a wait returns. */
static void catch_stop(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "agora: %s: %s\n", what, ag_strerror(rc));
	return 1;
}

int agora_cmd_events(struct ag_cluster *c, const char *cfg, int argc,
		     char **argv)
{
	int rc;

	(void)cfg;
	(void)argc;
	(void)argv;
	catch_stop();
	rc = ag_events_print(c, opts.since, opts.follow, &stop, stdout);
	return rc ? fail("events", rc) : 0;
}

int agora_cmd_catalog(struct ag_cluster *c, const char *cfg, int argc,
		      char **argv)
{
	int rc;

	(void)cfg;
	(void)argc;
	(void)argv;
	if (!opts.db) {
		fprintf(stderr, "usage: agora -c CONFIG %s\n",
			AGORA_CATALOG_USAGE);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_stop();
	rc = ag_catalog_run(c, opts.db, opts.follow, &stop, stdout);
	return rc ? fail("catalog", rc) : 0;
}

int agora_cmd_trigger(struct ag_cluster *c, int watch, int verbose, int argc,
		      char **argv)
{
	struct ag_trigger_spec s = { .prefix = opts.prefix,
				     .suffix = opts.suffix, .on = opts.on,
				     .exec = opts.exec,
				     .webhook = opts.webhook };
	struct ag_deliver_opts d = { .watch = watch, .verbose = verbose,
				     .max_failures = opts.failures,
				     .retry_ms = opts.retry_ms,
				     .lease_s = opts.lease_s, .stop = &stop,
				     .out = stdout };
	int rc;

	if (!strcmp(argv[0], "list") && argc == 1) {
		rc = ag_trigger_print(c, stdout);
		return rc ? fail("trigger list", rc) : 0;
	}
	if (!strcmp(argv[0], "remove") && argc == 2) {
		rc = ag_trigger_remove(c, argv[1]);
		return rc ? fail(argv[1], rc) : 0;
	}
	if (!strcmp(argv[0], "run") && argc == 1) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		catch_stop();
		rc = ag_trigger_run(c, &d);
		return rc ? fail("trigger run", rc) : 0;
	}
	if (strcmp(argv[0], "add") || argc != 2 || !s.exec == !s.webhook) {
		fprintf(stderr, "usage: agora -c CONFIG %s\n",
			AGORA_TRIGGER_USAGE);
		return 2;
	}
	s.name = argv[1];
	rc = ag_trigger_add(c, &s);
	return rc ? fail(argv[1], rc) : 0;
}
