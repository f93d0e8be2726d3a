/* Series registry: dense indices, cap and refusal counter, checked against
 * a naive linear-search reference on many keys. */
#include <stdlib.h>

#include "error.h"
#include "registry.h"
#include "tests/test.h"

TC_TEST(registry_dense_indices_and_lookup)
{
    static const uint8_t key[TC_REGISTRY_KEYBYTES] = {1, 2, 3};
    tc_registry_t *reg = tc_registry_new(100, key);
    CHECK(reg != NULL);
    uint32_t idx = 99;
    bool added = false;
    CHECK_OK(tc_registry_intern(reg, "a.com", 5, &idx, &added));
    CHECK(added);
    CHECK_INT_EQ(idx, 0);
    CHECK_OK(tc_registry_intern(reg, "b.com", 5, &idx, &added));
    CHECK(added);
    CHECK_INT_EQ(idx, 1);
    CHECK_OK(tc_registry_intern(reg, "a.com", 5, &idx, &added));
    CHECK(!added);
    CHECK_INT_EQ(idx, 0);
    CHECK_OK(tc_registry_find(reg, "b.com", 5, &idx));
    CHECK_INT_EQ(idx, 1);
    CHECK_INT_EQ(tc_registry_find(reg, "c.com", 5, &idx), TC_ENOTFOUND);
    size_t len = 0;
    CHECK_STR_EQ(tc_registry_key(reg, 1, &len), "b.com");
    CHECK_INT_EQ(len, 5);
    CHECK(tc_registry_key(reg, 2, NULL) == NULL);
    CHECK_INT_EQ(tc_registry_intern(reg, "", 0, &idx, NULL), TC_EINVAL);
    CHECK_INT_EQ(tc_registry_count(reg), 2);
    tc_registry_free(reg);
    tc_registry_free(NULL);
}

TC_TEST(registry_cap_counts_refusals)
{
    tc_registry_t *reg = tc_registry_new(3, NULL);
    CHECK(reg != NULL);
    uint32_t idx;
    const char *keys[] = {"k1", "k2", "k3", "k4", "k5"};
    for (int i = 0; i < 3; i++)
        CHECK_OK(tc_registry_intern(reg, keys[i], 2, &idx, NULL));
    CHECK_INT_EQ(tc_registry_intern(reg, keys[3], 2, &idx, NULL), TC_EFULL);
    CHECK_INT_EQ(tc_registry_intern(reg, keys[4], 2, &idx, NULL), TC_EFULL);
    CHECK_INT_EQ(tc_registry_intern(reg, keys[3], 2, &idx, NULL), TC_EFULL);
    CHECK_INT_EQ(tc_registry_refusals(reg), 3);
    /* known keys are still found at cap */
    CHECK_OK(tc_registry_intern(reg, keys[2], 2, &idx, NULL));
    CHECK_INT_EQ(idx, 2);
    CHECK_INT_EQ(tc_registry_count(reg), 3);
    CHECK_INT_EQ(tc_registry_cap(reg), 3);
    CHECK_INT_EQ(tc_registry_refusals(reg), 3);
    tc_registry_free(reg);
}

/* 200k keys (through many table doublings and pool chunks): every index
 * equals the order of first sight, every key reads back. */
TC_TEST(registry_many_keys_against_order_of_first_sight)
{
    enum { N = 200000 };
    tc_registry_t *reg = tc_registry_new(N, NULL);
    CHECK(reg != NULL);
    char buf[64];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++) {
            int n = snprintf(buf, sizeof(buf), "site%d.example/p/%d", i * 7919 % N, i);
            uint32_t idx;
            bool added;
            CHECK_OK(tc_registry_intern(reg, buf, (size_t)n, &idx, &added));
            CHECK_INT_EQ(idx, i);
            CHECK(added == (pass == 0));
        }
    }
    for (int i = 0; i < N; i += 997) {
        int n = snprintf(buf, sizeof(buf), "site%d.example/p/%d", i * 7919 % N, i);
        size_t len;
        const char *k = tc_registry_key(reg, (uint32_t)i, &len);
        CHECK(k && len == (size_t)n && memcmp(k, buf, len) == 0);
    }
    CHECK_INT_EQ(tc_registry_refusals(reg), 0);
    tc_registry_free(reg);
}
