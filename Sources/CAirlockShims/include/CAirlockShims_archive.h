// Shims for the Archive target: libarchive's file-type macros and a thread-local UTF-8 locale.
#pragma once

/// libarchive's `AE_IFCHR`, `AE_IFBLK`, `AE_IFIFO` and `AE_IFSOCK` as functions (the regular,
/// directory and symlink ones are in CAirlockShims.h).
unsigned int CAirlockShims_AE_IFCHR(void);
unsigned int CAirlockShims_AE_IFBLK(void);
unsigned int CAirlockShims_AE_IFIFO(void);
unsigned int CAirlockShims_AE_IFSOCK(void);

/// Switches the calling thread (only it: `uselocale`) to the `C.UTF-8` character-type locale
/// and returns the locale it replaced, for `CAirlockShims_archive_restore_locale`.
///
/// libarchive converts entry names between UTF-8 and the current locale; in the `C` locale a
/// non-ASCII name fails (and libarchive 3.6.2's pax writer then crashes on a NULL name). Under
/// `C.UTF-8` the conversion is the identity. Returns NULL, changing nothing, where the system
/// has no `C.UTF-8` locale; ASCII names work either way.
void *CAirlockShims_archive_use_utf8_locale(void);

/// Restores the locale `CAirlockShims_archive_use_utf8_locale` returned (NULL: nothing to do).
void CAirlockShims_archive_restore_locale(void *previous);
