/*
 * openfile.h - the table of open files of a cluster handle (openfile.c),
 * as the rest of the core sees it: made and freed with the handle, asked
 * by unlink and rename whether a name's inode is still open here.
 */
#ifndef AG_OPENFILE_H
#define AG_OPENFILE_H

#include <stdint.h>

struct ag_open_files;

int ag_open_files_new(struct ag_open_files **tp);
/* Commit and forget the files still open (their orphans are reaped by
 * metad once this client is gone). Accepts NULL. */
void ag_open_files_free(struct ag_open_files *t);
/* 1 when this handle has no file open (t may be NULL). */
int ag_open_files_none(struct ag_open_files *t);
/* 1 when this handle has ino open, 0 when not (t may be NULL). */
int ag_open_files_has(struct ag_open_files *t, uint64_t ino);
/* A new buffer of skip bytes (for the caller) then the inode of every
 * open file, little-endian u64 each: *buf, freed by the caller, and its
 * length in *len. */
int ag_open_files_list(struct ag_open_files *t, size_t skip, uint8_t **buf,
		       size_t *len);

#endif
