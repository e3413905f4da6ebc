/*
 * maildir: the read path and the deletions of a Maildir folder.
 *
 * A message is a file in new/ or cur/ of the Maildir; tmp/ and every name
 * beginning with '.' are ignored, and so is anything that is not a
 * regular file. A file's name is its unique part, then optionally ':' and
 * the info (":2,S" and the like) that mail programs change by renaming the
 * file, from new/ to cur/ or within cur/. The unique part is what
 * identifies a message: a file renamed by another program is found again
 * by it, in new/ or cur/.
 *
 * Messages are ordered by delivery time: the decimal number the name
 * starts with (names without one come last), then the unique part, then
 * the whole name. Each file is one message without a "From " line; its
 * wire octets are those of the same conversion as for an mbox message.
 *
 * new/ and cur/ must be directories, never symbolic links: a Maildir whose
 * new/ or cur/ is a link is refused (ELOOP), so that no message is read
 * or removed outside it. Each is opened once, when first needed, and kept
 * open with the index; a message file is opened beneath it, never
 * through a link.
 *
 * No lock is taken: Maildir needs none. Message files are opened only
 * while they are indexed or sent, so the memory kept per message is its
 * name and a few numbers.
 */
#ifndef POP2_MAILDIR_H
#define POP2_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

struct maildir_msg {
	char *name;    /* "new/NAME" or "cur/NAME" as last seen; owned */
	uint64_t size; /* stored octets: the file's size at the index */
	uint64_t wire; /* octets on the wire; always >= 2 */
	uint64_t hash; /* XXH3-64 of the stored octets */
	bool deleted;  /* marked by the client, removed at the commit */
};

struct maildir {
	int fd;	    /* the Maildir directory; not owned */
	int sub[2]; /* new/ and cur/ once opened, or -1; owned */
	struct maildir_msg *msg;
	size_t nmsg;
	size_t removed; /* files the last maildir_commit() removed */
};

/*
 * Indexes the Maildir open at FD (a directory): the messages in new/ and
 * cur/ at the time of the call, in delivery order. A missing new/ or cur/
 * holds nothing. A file that vanishes while it is indexed is looked up by
 * its unique part (another program may have renamed it) and otherwise left
 * out; a file listed twice because it was renamed from new/ to cur/ during
 * the scan is shown once. Returns 0, or -1 with errno (ELOOP: new/ or cur/
 * is a symbolic link; ENOMEM, or an error reading a directory or a file);
 * on failure MD holds nothing to free.
 */
int maildir_index(struct maildir *md, int fd);

/* Frees what maildir_index() allocated and closes new/ and cur/; does not
 * close md->fd. */
void maildir_free(struct maildir *md);

/* Number of messages. */
size_t maildir_count(const struct maildir *md);

/* Message N (1-based), or NULL when N is 0 or past the end. */
struct maildir_msg *maildir_get(const struct maildir *md, size_t n);

/*
 * Streams the wire octets of message N to SINK: exactly its wire octets
 * on success. The file is opened by its name, or found again by its unique
 * part when another program renamed it; its octets are checked against the
 * hash taken at index time. Returns 0, or -1 with errno: ENOENT (no such
 * message), ESTALE (the file is gone or its octets changed since the
 * index; nothing has been written for a file of at most 1 MiB; a larger
 * one is hashed as it streams and its last 64 KiB are held back until the
 * hash matches, so it is never sent whole), or a read error or the sink's
 * errno. After a failure part of the message may have been written.
 */
int maildir_send(struct maildir *md, size_t n, const struct sink *sink);

/*
 * Removes the files of the messages marked deleted, each found by its
 * name or, when another program renamed it, by its unique part; a file
 * that is already gone is not an error. Then new/ and cur/ are fsync'd.
 * Files delivered after the index are never touched. Nothing marked:
 * returns 0 and changes nothing. Before anything is removed, new/ and cur/
 * must both be writable, else -1 with errno EACCES and nothing removed.
 * Returns 0, or -1 with errno from unlink or fsync; the files already
 * removed then stay removed (each removal is whole) and MD->removed says
 * how many there are.
 */
int maildir_commit(struct maildir *md);

/*
 * Turns a folder name that folder_name_ok() accepted into its Maildir++
 * folder inside the Maildir: "work" is ".work", "a/b" is ".a.b". Returns
 * 0 with *OUT the result, which the caller frees, or -1 with errno
 * ENOMEM, *OUT then NULL.
 */
int maildir_folder_name(const char *name, char **out);

#endif
