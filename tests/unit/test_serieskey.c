/* Series keying: the normalisation rules of lib/serieskey.h, case by case. */
#include "error.h"
#include "serieskey.h"
#include "tests/test.h"

static int key_of(const tc_serieskey_config_t *cfg, const char *site, const char *path, char *buf)
{
    size_t len;
    return tc_serieskey_format(cfg, site, strlen(site), path, path ? strlen(path) : 0, buf,
                               TC_SERIESKEY_MAX + 1, &len);
}

TC_TEST(serieskey_site_mode_lowercases_host)
{
    tc_serieskey_config_t cfg = {TC_SERIESKEY_SITE, 0, false, false};
    char buf[TC_SERIESKEY_MAX + 1];
    CHECK_OK(key_of(&cfg, "Shop.Example.COM.", "/a/b?x=1", buf));
    CHECK_STR_EQ(buf, "shop.example.com");
}

TC_TEST(serieskey_path_depth_and_query)
{
    tc_serieskey_config_t cfg = {TC_SERIESKEY_SITE_PATH, 1, false, false};
    char buf[TC_SERIESKEY_MAX + 1];
    CHECK_OK(key_of(&cfg, "Shop.Example.COM", "/shop/cart/42?id=7#top", buf));
    CHECK_STR_EQ(buf, "shop.example.com/shop");
    cfg.path_depth = 2;
    CHECK_OK(key_of(&cfg, "shop.example.com", "/shop/cart/42?id=7", buf));
    CHECK_STR_EQ(buf, "shop.example.com/shop/cart");
    cfg.path_depth = 0;
    CHECK_OK(key_of(&cfg, "shop.example.com", "/shop/cart/42?id=7", buf));
    CHECK_STR_EQ(buf, "shop.example.com/shop/cart/42");
    CHECK_OK(key_of(&cfg, "h", "/a?b/c", buf));
    CHECK_STR_EQ(buf, "h/a");
    CHECK_OK(key_of(&cfg, "h", "/a#b/c", buf));
    CHECK_STR_EQ(buf, "h/a");
}

TC_TEST(serieskey_slashes_and_root)
{
    tc_serieskey_config_t cfg = {TC_SERIESKEY_SITE_PATH, 0, false, false};
    char buf[TC_SERIESKEY_MAX + 1];
    CHECK_OK(key_of(&cfg, "h", "//shop///cart/", buf));
    CHECK_STR_EQ(buf, "h/shop/cart");
    CHECK_OK(key_of(&cfg, "h", "", buf));
    CHECK_STR_EQ(buf, "h/");
    CHECK_OK(key_of(&cfg, "h", "/", buf));
    CHECK_STR_EQ(buf, "h/");
    CHECK_OK(key_of(&cfg, "h", "?q=1", buf));
    CHECK_STR_EQ(buf, "h/");
    CHECK_OK(key_of(&cfg, "h", "shop", buf));
    CHECK_STR_EQ(buf, "h/shop");
    cfg.keep_trailing_slash = true;
    CHECK_OK(key_of(&cfg, "h", "/shop/cart/", buf));
    CHECK_STR_EQ(buf, "h/shop/cart/");
    CHECK_OK(key_of(&cfg, "h", "/shop/?a", buf));
    CHECK_STR_EQ(buf, "h/shop/");
    cfg.path_depth = 1; /* a truncated prefix never keeps the slash */
    CHECK_OK(key_of(&cfg, "h", "/shop/cart/", buf));
    CHECK_STR_EQ(buf, "h/shop");
    cfg.keep_trailing_slash = false;
    cfg.lowercase_path = true;
    CHECK_OK(key_of(&cfg, "h", "/SHOP/Cart", buf));
    CHECK_STR_EQ(buf, "h/shop");
}

TC_TEST(serieskey_errors)
{
    tc_serieskey_config_t cfg = {TC_SERIESKEY_SITE_PATH, 0, false, false};
    char buf[TC_SERIESKEY_MAX + 1];
    size_t len = 0;
    CHECK_INT_EQ(key_of(&cfg, "", "/a", buf), TC_EMISSING_KEY);
    CHECK_INT_EQ(key_of(&cfg, ".", "/a", buf), TC_EMISSING_KEY);
    char longpath[400];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK_INT_EQ(key_of(&cfg, "h", longpath, buf), TC_EOVERSIZED);
    char small[4];
    CHECK_INT_EQ(tc_serieskey_format(&cfg, "host", 4, "/ab", 3, small, sizeof(small), &len),
                 TC_ERANGE);
    CHECK_INT_EQ(len, 7);
    tc_serieskey_config_t bad = {(tc_serieskey_mode_t)7, 0, false, false};
    CHECK_INT_EQ(key_of(&bad, "h", "/", buf), TC_EINVAL);
}

TC_TEST(serieskey_by_event_kind)
{
    tc_serieskey_config_t cfg = {TC_SERIESKEY_SITE_PATH, 1, false, false};
    char buf[TC_SERIESKEY_MAX + 1];
    size_t len;
    tc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = TC_EVENT_TRAFFIC;
    ev.site = tc_str_c("NASA.gov");
    ev.traffic.path = tc_str_c("/shuttle/missions/sts-70/x.html");
    CHECK_OK(tc_serieskey_make(&cfg, &ev, buf, sizeof(buf), &len));
    CHECK_STR_EQ(buf, "nasa.gov/shuttle");
    CHECK_INT_EQ(len, strlen("nasa.gov/shuttle"));

    memset(&ev, 0, sizeof(ev));
    ev.kind = TC_EVENT_BEHAVIOR;
    ev.site = tc_str_c("Shop.example.com");
    CHECK_OK(tc_serieskey_make(&cfg, &ev, buf, sizeof(buf), &len));
    CHECK_STR_EQ(buf, "shop.example.com");

    memset(&ev, 0, sizeof(ev));
    ev.kind = TC_EVENT_ANNOTATION;
    ev.annotation.target = tc_str_c("Shop.example.com/Sale/x?y");
    CHECK_OK(tc_serieskey_make(&cfg, &ev, buf, sizeof(buf), &len));
    CHECK_STR_EQ(buf, "shop.example.com/Sale");
    ev.annotation.target = tc_str_c("Shop.example.com");
    CHECK_OK(tc_serieskey_make(&cfg, &ev, buf, sizeof(buf), &len));
    CHECK_STR_EQ(buf, "shop.example.com");
    cfg.mode = TC_SERIESKEY_SITE;
    ev.annotation.target = tc_str_c("Shop.example.com/Sale");
    CHECK_OK(tc_serieskey_make(&cfg, &ev, buf, sizeof(buf), &len));
    CHECK_STR_EQ(buf, "shop.example.com");
}
