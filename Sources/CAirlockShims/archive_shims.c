#define _GNU_SOURCE
#include "CAirlockShims_archive.h"

#include <archive_entry.h>
#include <locale.h>
#include <pthread.h>

unsigned int CAirlockShims_AE_IFCHR(void) { return AE_IFCHR; }
unsigned int CAirlockShims_AE_IFBLK(void) { return AE_IFBLK; }
unsigned int CAirlockShims_AE_IFIFO(void) { return AE_IFIFO; }
unsigned int CAirlockShims_AE_IFSOCK(void) { return AE_IFSOCK; }

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale = (locale_t)0;

static void make_utf8_locale(void) {
    // Made once and kept for the life of the process: a locale_t in use must not be freed.
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

void *CAirlockShims_archive_use_utf8_locale(void) {
    pthread_once(&utf8_once, make_utf8_locale);
    if (utf8_locale == (locale_t)0) return NULL;
    return (void *)uselocale(utf8_locale);
}

void CAirlockShims_archive_restore_locale(void *previous) {
    if (previous != NULL) uselocale((locale_t)previous);
}
