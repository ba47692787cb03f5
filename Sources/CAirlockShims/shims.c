#define _GNU_SOURCE
#include "CAirlockShims.h"

#include <archive_entry.h>
#include <openssl/crypto.h>
#include <spawn.h>
#include <string.h>
#include <sys/timex.h>

unsigned int CAirlockShims_AE_IFREG(void) { return AE_IFREG; }
unsigned int CAirlockShims_AE_IFDIR(void) { return AE_IFDIR; }
unsigned int CAirlockShims_AE_IFLNK(void) { return AE_IFLNK; }

void CAirlockShims_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }

int CAirlockShims_posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int CAirlockShims_posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int CAirlockShims_adjtimex_state(void) {
    struct timex buffer;
    memset(&buffer, 0, sizeof buffer);
    return adjtimex(&buffer);
}

int CAirlockShims_TIME_ERROR(void) { return TIME_ERROR; }

#include <sys/prctl.h>

int CAirlockShims_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0);
}

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int CAirlockShims_O_DIRECT(void) { return O_DIRECT; }

int CAirlockShims_syncfs(int descriptor) { return syncfs(descriptor); }
