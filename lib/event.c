/* event.c - names of event kinds and behaviour types (event.h). */
#include "event.h"

static const char *const behavior_names[TC_BEHAVIOR_COUNT] = {
    "unspecified", "view", "click", "add_to_cart", "purchase",
    "signup",      "login", "cancel", "search",    "logout",
};

static const char *const kind_names[] = {NULL, "traffic", "behavior", "annotation"};

const char *tc_behavior_name(tc_behavior_type_t type)
{
    if ((int)type < 0 || (int)type >= TC_BEHAVIOR_COUNT)
        return NULL;
    return behavior_names[type];
}

int tc_behavior_from_name(const char *s, size_t len)
{
    for (int i = 0; i < TC_BEHAVIOR_COUNT; i++)
        if (strlen(behavior_names[i]) == len && memcmp(behavior_names[i], s, len) == 0)
            return i;
    return -1;
}

const char *tc_event_kind_name(tc_event_kind_t kind)
{
    if (kind < TC_EVENT_TRAFFIC || kind > TC_EVENT_ANNOTATION)
        return NULL;
    return kind_names[kind];
}

tc_event_kind_t tc_event_kind_from_name(const char *s, size_t len)
{
    for (int k = TC_EVENT_TRAFFIC; k <= TC_EVENT_ANNOTATION; k++)
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0)
            return (tc_event_kind_t)k;
    return TC_EVENT_NONE;
}
