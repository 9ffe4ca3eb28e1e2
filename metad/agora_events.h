/*
 * agora_events.h - the agora tool's commands of the event log, of
 * triggers and of the catalog (agora_events.c): agora events, agora
 * trigger, agora catalog.
 */
#ifndef AG_AGORA_EVENTS_H
#define AG_AGORA_EVENTS_H

#include <getopt.h>

#include "agora.h"

/* Their long options, for the tool's getopt_long table, and their
 * values, which agora_events_opt takes: 0, or -1 for another option. */
#define AGORA_EVENTS_LONGOPTS                                         \
	{ "follow", no_argument, NULL, 0x100 },                       \
	{ "since", required_argument, NULL, 0x101 },                  \
	{ "prefix", required_argument, NULL, 0x102 },                 \
	{ "suffix", required_argument, NULL, 0x103 },                 \
	{ "on", required_argument, NULL, 0x104 },                     \
	{ "exec", required_argument, NULL, 0x105 },                   \
	{ "webhook", required_argument, NULL, 0x106 },                \
	{ "failures", required_argument, NULL, 0x107 },               \
	{ "retry", required_argument, NULL, 0x108 },                  \
	{ "lease", required_argument, NULL, 0x109 },                  \
	{ "db", required_argument, NULL, 0x10a }
int agora_events_opt(int opt, const char *arg);

#define AGORA_EVENTS_USAGE "events [--follow] [--since SEQ]"
#define AGORA_TRIGGER_USAGE                                             \
	"trigger add NAME [--prefix P] [--suffix S] [--on KINDS] "      \
	"--exec CMD|--webhook URL | list | remove NAME | run [--watch] " \
	"[--failures N] [--retry MS] [--lease S] [-v]"

#define AGORA_CATALOG_USAGE "catalog --db FILE [--follow]"

int agora_cmd_catalog(struct ag_cluster *c, const char *cfg, int argc,
		      char **argv);
int agora_cmd_events(struct ag_cluster *c, const char *cfg, int argc,
		     char **argv);
/* watch: the tool's --watch; verbose: -v */
int agora_cmd_trigger(struct ag_cluster *c, int watch, int verbose, int argc,
		      char **argv);

#endif
