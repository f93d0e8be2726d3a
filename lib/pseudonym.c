/*
 * pseudonym.c - keyed hashing of raw user ids (see pseudonym.h):
 * key = BLAKE2b-128(secret), id = SipHash-2-4(key, raw), both from libsodium.
 */
#include "pseudonym.h"

#include <sodium.h>
#include <string.h>

#include "error.h"

int tc_pseudonym_init(tc_pseudonym_t *p, const void *secret, size_t len)
{
    if (!p || !secret || len < TC_PSEUDONYM_MIN_SECRET)
        return TC_EINVAL;
    if (sodium_init() < 0) /* idempotent and thread-safe */
        return TC_ECONFIG;
    if (crypto_generichash(p->key, sizeof(p->key), secret, len, NULL, 0) != 0)
        return TC_ECONFIG;
    return 0;
}

void tc_pseudonym_deinit(tc_pseudonym_t *p)
{
    if (p)
        sodium_memzero(p->key, sizeof(p->key));
}

uint64_t tc_pseudonym_id(const tc_pseudonym_t *p, const void *raw, size_t len)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t id = 0;
    crypto_shorthash(h, raw, len, p->key);
    for (int i = 0; i < 8; i++)
        id = id << 8 | h[i];
    return id ? id : 1;
}

void tc_pseudonym_hex(uint64_t id, char out[17])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = hx[id & 15];
        id >>= 4;
    }
    out[16] = 0;
}

int tc_pseudonym_parse_hex(const char *s, uint64_t *id)
{
    uint64_t v = 0;
    if (!s || !id)
        return TC_EPARSE;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return TC_EPARSE;
        v = v << 4 | (uint64_t)d;
    }
    if (s[16])
        return TC_EPARSE;
    *id = v;
    return 0;
}
