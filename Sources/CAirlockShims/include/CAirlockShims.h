// C shims for what Swift cannot import from the system libraries: function-like macros,
// alias macros and variadic functions. Every name is prefixed `CAirlockShims_`.
#pragma once
#include <stddef.h>
#include <sys/types.h>

/// libarchive's file-type macros (`AE_IFREG` ...) as functions.
unsigned int CAirlockShims_AE_IFREG(void);
unsigned int CAirlockShims_AE_IFDIR(void);
unsigned int CAirlockShims_AE_IFLNK(void);

#include "CAirlockShims_archive.h"

/// OpenSSL's `OPENSSL_free` (a macro over `CRYPTO_free`).
void CAirlockShims_OPENSSL_free(void *pointer);

#include "CAirlockShims_openssl.h"

#include <spawn.h>

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (closes every descriptor >= `from` in the
/// child) and `posix_spawn_file_actions_addchdir_np`, which need `_GNU_SOURCE` to be declared.
int CAirlockShims_posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
int CAirlockShims_posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);

/// adjtimex(2) in read-only mode (`modes` 0): the kernel clock's state, `TIME_OK` (0) to
/// `TIME_ERROR` (5, not synchronized), or -1 with errno set. Glibc's Swift module does not carry
/// `<sys/timex.h>`.
int CAirlockShims_adjtimex_state(void);

/// `TIME_ERROR` from `<sys/timex.h>`: the clock is not synchronized (STA_UNSYNC and friends).
int CAirlockShims_TIME_ERROR(void);

/// prctl(PR_SET_PDEATHSIG, signal): the calling process gets `signal` when its parent exits
/// (prctl is variadic, which Swift cannot call).
int CAirlockShims_set_parent_death_signal(int signal);

/// `O_DIRECT` (file I/O that bypasses the page cache), which `<fcntl.h>` declares only under
/// `_GNU_SOURCE`.
int CAirlockShims_O_DIRECT(void);

/// syncfs(2): flushes the file system holding `descriptor` (declared only under `_GNU_SOURCE`).
int CAirlockShims_syncfs(int descriptor);
