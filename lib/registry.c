/*
 * registry.c - open-addressing map from series key to dense index (registry.h).
 *
 * Slots hold (64-bit SipHash of the key, index + 1); 0 marks an empty slot.
 * Probing is linear from hash & mask; the table doubles when it would pass
 * half full, so an unsuccessful lookup inspects about 2.5 slots on average
 * (Knuth, TAOCP vol. 3, 6.4: (1 + 1/(1-a)^2)/2 at load a = 1/2). The full hash
 * is stored so that a probe compares keys only on a hash match and growth
 * needs no rehashing of key bytes.
 *
 * Key bytes are copied NUL-terminated into chunks of POOL_CHUNK bytes that
 * never move, so tc_registry_key pointers stay valid.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "registry.h"

#define POOL_CHUNK 65536

typedef struct slot {
    uint64_t hash;
    uint32_t idx1; /* index + 1; 0 = empty */
} slot_t;

typedef struct entry {
    const char *key;
    uint32_t len;
} entry_t;

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    char data[];
} chunk_t;

struct tc_registry {
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    size_t cap;
    size_t count;
    uint64_t refusals;
    slot_t *slots;
    size_t mask; /* table size - 1 */
    entry_t *entries;
    size_t entries_cap;
    chunk_t *pool;
};

static uint64_t hash_key(const tc_registry_t *reg, const char *key, size_t len)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)key, len, reg->hkey);
    memcpy(&h, out, sizeof(h));
    return h;
}

tc_registry_t *tc_registry_new(size_t cap, const uint8_t *hash_key_in)
{
    if (cap < 1 || cap >= ((size_t)1 << 31))
        return NULL;
    tc_registry_t *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    if (hash_key_in) {
        memcpy(reg->hkey, hash_key_in, sizeof(reg->hkey));
    } else {
        if (sodium_init() < 0)
            goto fail_reg;
        randombytes_buf(reg->hkey, sizeof(reg->hkey));
    }
    reg->cap = cap;
    size_t n = 16;
    reg->slots = calloc(n, sizeof(*reg->slots));
    if (!reg->slots)
        goto fail_reg;
    reg->mask = n - 1;
    return reg;

fail_reg:
    free(reg);
    return NULL;
}

void tc_registry_free(tc_registry_t *reg)
{
    if (!reg)
        return;
    chunk_t *c = reg->pool;
    while (c) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(reg->entries);
    free(reg->slots);
    free(reg);
}

/* Returns the slot holding key, or the empty slot where it would go. */
static slot_t *probe(const tc_registry_t *reg, uint64_t h, const char *key, size_t len)
{
    size_t i = (size_t)h & reg->mask;
    for (;;) {
        slot_t *s = &reg->slots[i];
        if (s->idx1 == 0)
            return s;
        if (s->hash == h) {
            const entry_t *e = &reg->entries[s->idx1 - 1];
            if (e->len == len && memcmp(e->key, key, len) == 0)
                return s;
        }
        i = (i + 1) & reg->mask;
    }
}

static int grow_table(tc_registry_t *reg)
{
    size_t n = (reg->mask + 1) * 2;
    slot_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return TC_ENOMEM;
    for (size_t i = 0; i <= reg->mask; i++) {
        slot_t s = reg->slots[i];
        if (!s.idx1)
            continue;
        size_t j = (size_t)s.hash & (n - 1);
        while (slots[j].idx1)
            j = (j + 1) & (n - 1);
        slots[j] = s;
    }
    free(reg->slots);
    reg->slots = slots;
    reg->mask = n - 1;
    return 0;
}

static const char *pool_copy(tc_registry_t *reg, const char *key, size_t len)
{
    chunk_t *c = reg->pool;
    if (!c || c->size - c->used < len + 1) {
        size_t size = len + 1 > POOL_CHUNK ? len + 1 : POOL_CHUNK;
        chunk_t *nc = malloc(sizeof(*nc) + size);
        if (!nc)
            return NULL;
        nc->next = reg->pool;
        nc->used = 0;
        nc->size = size;
        reg->pool = nc;
        c = nc;
    }
    char *dst = c->data + c->used;
    memcpy(dst, key, len);
    dst[len] = '\0';
    c->used += len + 1;
    return dst;
}

int tc_registry_intern(tc_registry_t *reg, const char *key, size_t len, uint32_t *index,
                       bool *added)
{
    if (len == 0 || len > UINT16_MAX)
        return TC_EINVAL;
    uint64_t h = hash_key(reg, key, len);
    slot_t *s = probe(reg, h, key, len);
    if (s->idx1) {
        *index = s->idx1 - 1;
        if (added)
            *added = false;
        return 0;
    }
    if (reg->count >= reg->cap) {
        reg->refusals++;
        return TC_EFULL;
    }
    if (reg->count == reg->entries_cap) {
        size_t ncap = reg->entries_cap ? reg->entries_cap * 2 : 16;
        if (ncap > reg->cap)
            ncap = reg->cap;
        entry_t *e = realloc(reg->entries, ncap * sizeof(*e));
        if (!e)
            return TC_ENOMEM;
        reg->entries = e;
        reg->entries_cap = ncap;
    }
    if ((reg->count + 1) * 2 > reg->mask + 1) {
        if (grow_table(reg) != 0)
            return TC_ENOMEM;
        s = probe(reg, h, key, len);
    }
    const char *copy = pool_copy(reg, key, len);
    if (!copy)
        return TC_ENOMEM;
    uint32_t idx = (uint32_t)reg->count++;
    reg->entries[idx].key = copy;
    reg->entries[idx].len = (uint32_t)len;
    s->hash = h;
    s->idx1 = idx + 1;
    *index = idx;
    if (added)
        *added = true;
    return 0;
}

int tc_registry_find(const tc_registry_t *reg, const char *key, size_t len, uint32_t *index)
{
    if (len == 0 || len > UINT16_MAX)
        return TC_ENOTFOUND;
    const slot_t *s = probe(reg, hash_key(reg, key, len), key, len);
    if (!s->idx1)
        return TC_ENOTFOUND;
    *index = s->idx1 - 1;
    return 0;
}

const char *tc_registry_key(const tc_registry_t *reg, uint32_t index, size_t *len)
{
    if (index >= reg->count)
        return NULL;
    if (len)
        *len = reg->entries[index].len;
    return reg->entries[index].key;
}

size_t tc_registry_count(const tc_registry_t *reg)
{
    return reg->count;
}

size_t tc_registry_cap(const tc_registry_t *reg)
{
    return reg->cap;
}

uint64_t tc_registry_refusals(const tc_registry_t *reg)
{
    return reg->refusals;
}
