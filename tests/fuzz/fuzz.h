/* fuzz.h -- what the libFuzzer harnesses share: the entry point's
 * prototype and a bounded JSON decode of the fuzzer's bytes.
 *
 * Header-only (static inline), like tests/unit/unit.h. A harness must not
 * leak: LeakSanitizer runs after every input that ends a run. */
#ifndef HD_FUZZ_H
#define HD_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs above this size are ignored: every parser under test sits behind
 * a body or record limit far below it. */
#define FUZZ_INPUT_MAX (256 * 1024)

/* new: data as any JSON value (jansson's own limits: depth 2048), or
 * NULL. */
static inline json_t *
fuzz_json(const uint8_t *data, size_t size)
{
    return json_loadb((const char *)data, size,
                      JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

#endif
