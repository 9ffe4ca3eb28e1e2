/*
 * events.h - reading the event log (events.c) for agora events and the
 * deliverer of triggers (trigger.c): events in batches with their paths
 * resolved, and their JSON.
 */
#ifndef AG_EVENTS_H
#define AG_EVENTS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct ag_cluster;

/* An event with its paths: path, and for a rename opath, the old one.
 * They are the paths at the event's commit, as the record says; of an
 * event whose paths were too long for its record, those of (parent,
 * name) and (old parent, old name) at the root read ("" when the
 * directory is gone). e.name and e.oname point into the view. */
struct ag_event_view {
	struct ag_event e;
	char name[AG_EVENT_TEXT_MAX + 1], oname[AG_EVENT_TEXT_MAX + 1];
	char path[PATH_MAX], opath[PATH_MAX];
};

/* Up to max events from seq since on, at the newest root c knows, into
 * vs[0..*n), and in *next the seq to read on from: since when there
 * were none. Events trimmed from the log are passed by (the first
 * returned may be after since), and so are those of private names
 * (multipart upload parts, agora.h). */
int ag_events_read(struct ag_cluster *c, struct ag_event_paths *p,
		   uint64_t since, struct ag_event_view *vs, size_t max,
		   size_t *n, uint64_t *next);
/* The JSON object of v (one line, no newline) in buf of cap bytes; its
 * length, or -ENOSPC. */
int ag_event_json(const struct ag_event_view *v, char *buf, size_t cap);
/* v's time as RFC 3339 (UTC, ns) in buf (40 bytes). */
void ag_event_time(const struct ag_event_view *v, char *buf, size_t cap);
/* Append s as a JSON string (quoted, escaped) to buf at *len (cap
 * bytes); -ENOSPC when it does not fit. */
int ag_json_str(char *buf, size_t cap, size_t *len, const char *s);

#endif
