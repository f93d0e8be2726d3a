/*
 * pseudonym.h - pseudonymous user identifiers: a keyed hash of the raw id.
 *
 * id = SipHash-2-4(key, raw id) (libsodium crypto_shorthash), 64 bits,
 * written as 16 lower-case hex digits wherever it is published. The 16-byte
 * key is derived from the configured secret (a config value or the contents
 * of a key file, read by the caller) with unkeyed BLAKE2b
 * (crypto_generichash), so a secret of any length of at least 16 bytes works.
 * Without the secret the id cannot be linked back to the raw id by
 * enumeration. The key lives only inside tc_pseudonym_t and is wiped by
 * tc_pseudonym_deinit; nothing here prints or logs it.
 *
 * 64 bits: at 10 million users the chance that two users share an id is
 * about n^2 / 2^65 = 3e-6.
 */
#ifndef TC_PSEUDONYM_H
#define TC_PSEUDONYM_H

#include <stddef.h>
#include <stdint.h>

#define TC_PSEUDONYM_KEYBYTES 16
#define TC_PSEUDONYM_MIN_SECRET 16

typedef struct tc_pseudonym {
    unsigned char key[TC_PSEUDONYM_KEYBYTES];
} tc_pseudonym_t;

/* Derives the key from secret (len >= TC_PSEUDONYM_MIN_SECRET bytes).
 * Returns 0, TC_EINVAL (NULL or too short), TC_ECONFIG (libsodium failed to
 * initialise). */
int tc_pseudonym_init(tc_pseudonym_t *p, const void *secret, size_t len);

/* Wipes the key. NULL is a no-op. */
void tc_pseudonym_deinit(tc_pseudonym_t *p);

/* The pseudonymous id of raw (len bytes); never 0 (0 is mapped to 1, so that
 * 0 can mean "no user" in tables). */
uint64_t tc_pseudonym_id(const tc_pseudonym_t *p, const void *raw, size_t len);

/* Writes id as 16 hex digits and a NUL into out[17]. */
void tc_pseudonym_hex(uint64_t id, char out[17]);

/* Parses 16 hex digits back into *id. Returns 0 or TC_EPARSE. */
int tc_pseudonym_parse_hex(const char *s, uint64_t *id);

#endif
