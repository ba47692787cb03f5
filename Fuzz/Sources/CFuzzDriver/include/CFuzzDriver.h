#ifndef AIRLOCK_CFUZZDRIVER_H
#define AIRLOCK_CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt FuzzerDriver.cpp): parses libFuzzer's flags from argv and
/// runs `callback` on each input. Linked in by -sanitize=fuzzer.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
