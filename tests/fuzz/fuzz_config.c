/*
 * fuzz_config.c - libFuzzer harness for fuzz_config() of tests/unit/fuzz_targets.h
 * (the same checks as the unit suite's seeded fuzzer). Built and run by
 * tests/fuzz/run.sh with clang -fsanitize=fuzzer,address,undefined; a
 * violated contract aborts with its description, so libFuzzer saves the
 * input as a crash.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/fuzz_targets.h"

static fuzz_ctx_t *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx) {
        const char *dir = getenv("TC_FUZZ_TMPDIR");
        ctx = fuzz_new(dir ? dir : "/tmp");
        if (!ctx)
            abort();
    }
    const char *why = fuzz_config(ctx, data, size);
    if (why) {
        fprintf(stderr, "fuzz_config: %s\n", why);
        abort();
    }
    return 0;
}
