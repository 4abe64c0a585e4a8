/* Whole directory trees: removing one, and cloning one as hardlinks.  Both
 * work below a directory fd and never follow a symlink; cloning stops at a
 * depth no unpacked image can reach. */
#ifndef SBX_FSTREE_H
#define SBX_FSTREE_H

#include "error.h"

#define SBX_FSTREE_MAX_DEPTH 512

/* Remove NAME in DIRFD, the whole tree if it is a directory; a symlink is
 * removed itself.  Any depth: deep directories are moved up, never
 * recursed into.  What cannot be removed is skipped, the rest removed;
 * then errno says why and -1 is returned. */
int sbx_tree_remove(int dirfd, const char *name);

/* Remove everything in the directory DIR (an fd this function closes). */
int sbx_tree_empty(int dir);

/* Fill the empty directory DST with a copy of the tree at SRC in which
 * every directory is new (owner, mode and times copied) and everything else
 * is a hardlink to SRC's inode.  Safe to build on because the unpacker never
 * changes an inode it did not create: it replaces files, it does not write
 * into them. */
int sbx_tree_clone_links(int src, int dst, struct sbx_error *err);

/* The same with regular files and symlinks copied (tmpcopyup: a tmpfs
 * filled from the image); other kinds of file are left out. */
int sbx_tree_copy(int src, int dst, struct sbx_error *err);

#endif
