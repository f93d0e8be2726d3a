/*
 * registry.h - series keys to dense series indices.
 *
 * Each distinct key gets the next index 0, 1, 2, ... in order of first
 * sight, so per-series state elsewhere lives in flat arrays indexed by it.
 * Indices are never reused or moved. The number of series is capped
 * (memory is bounded): a new key beyond the cap is refused with TC_EFULL
 * and counted, the event's series simply is not tracked.
 *
 * The map is open addressing with linear probing over a power-of-two table
 * kept at most half full, hashed with SipHash-2-4 (libsodium
 * crypto_shorthash) under a per-registry secret key, so keys chosen by an
 * outsider (paths come from the internet) cannot force long probe runs.
 *
 * Memory: the table grows by doubling and key bytes live in a chunked pool;
 * both allocate only when a new key is added, never on lookup.
 *
 * Threads: one thread at a time per registry.
 */
#ifndef TC_REGISTRY_H
#define TC_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tc_registry tc_registry_t;

/* Size of the SipHash key. */
#define TC_REGISTRY_KEYBYTES 16

/*
 * Creates a registry holding at most cap keys (cap >= 1, < 2^31). hash_key
 * is TC_REGISTRY_KEYBYTES bytes, or NULL for a random one (libsodium).
 * Returns NULL on allocation failure, bad cap or no randomness.
 */
tc_registry_t *tc_registry_new(size_t cap, const uint8_t *hash_key);

/* Frees the registry; NULL is a no-op. */
void tc_registry_free(tc_registry_t *reg);

/*
 * Looks up key[0..len) and adds it when absent. On success *index is its
 * index and *added (if non-NULL) tells whether it was new. Returns 0;
 * TC_EFULL when the key is new and the registry holds cap keys (the refusal
 * counter is incremented); TC_ENOMEM if growing failed; TC_EINVAL for
 * len == 0 or len > UINT16_MAX.
 */
int tc_registry_intern(tc_registry_t *reg, const char *key, size_t len, uint32_t *index,
                       bool *added);

/* Looks key up without adding: 0 and *index, or TC_ENOTFOUND. */
int tc_registry_find(const tc_registry_t *reg, const char *key, size_t len, uint32_t *index);

/*
 * Returns the key of index (NUL-terminated, owned by the registry, valid
 * until tc_registry_free) and its length in *len if non-NULL; NULL if the
 * index is not in use.
 */
const char *tc_registry_key(const tc_registry_t *reg, uint32_t index, size_t *len);

/* Number of keys held. */
size_t tc_registry_count(const tc_registry_t *reg);

/* The cap given at creation. */
size_t tc_registry_cap(const tc_registry_t *reg);

/* Number of new keys refused because the registry was full. */
uint64_t tc_registry_refusals(const tc_registry_t *reg);

#endif
