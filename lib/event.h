/*
 * event.h - the one internal form of an input event.
 *
 * The three input messages of proto/tidecast/v1/events.proto (TrafficEvent,
 * BehaviorEvent, Annotation) all decode into tc_event_t, so that keying,
 * windows and user state see one shape whatever the wire format (protobuf or
 * JSON) was.
 *
 * Strings are views (pointer, length) into memory owned by whoever produced
 * the event: for events from a tc_decoder_t (decode.h) that is the decoder's
 * arena, valid until the next decode call on the same decoder or until
 * tc_decoder_free. A view produced by the decoder is always NUL-terminated at
 * ptr[len] and contains no NUL before it; an absent or empty field is
 * {"" , 0}, never a NULL pointer. Events built by hand for encoding must keep
 * the same rule (tc_str_c() makes a view of a C string).
 *
 * Units: times in milliseconds since the Unix epoch (UTC); money in the site's
 * currency; sizes in bytes.
 */
#ifndef TC_EVENT_H
#define TC_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Features of an Annotation beyond this count are refused (TC_EOVERSIZED). */
#define TC_EVENT_MAX_FEATURES 64

/* A read-only string view; see the header comment for lifetime and NULs. */
typedef struct tc_str {
    const char *ptr;
    size_t len;
} tc_str_t;

/* Returns a view of the NUL-terminated string s (s must outlive the view). */
static inline tc_str_t tc_str_c(const char *s)
{
    tc_str_t v = {s ? s : "", s ? strlen(s) : 0};
    return v;
}

/* Which input message an event came from. Values match the Envelope oneof. */
typedef enum tc_event_kind {
    TC_EVENT_NONE = 0, /* unknown or not given: JSON then needs "kind" */
    TC_EVENT_TRAFFIC = 1,
    TC_EVENT_BEHAVIOR = 2,
    TC_EVENT_ANNOTATION = 3,
} tc_event_kind_t;

/* Kinds of behaviour; numbers equal the BehaviorType enum of events.proto. */
typedef enum tc_behavior_type {
    TC_BEHAVIOR_UNSPECIFIED = 0,
    TC_BEHAVIOR_VIEW = 1,
    TC_BEHAVIOR_CLICK = 2,
    TC_BEHAVIOR_ADD_TO_CART = 3,
    TC_BEHAVIOR_PURCHASE = 4,
    TC_BEHAVIOR_SIGNUP = 5,
    TC_BEHAVIOR_LOGIN = 6,
    TC_BEHAVIOR_CANCEL = 7,
    TC_BEHAVIOR_SEARCH = 8,
    TC_BEHAVIOR_LOGOUT = 9,
} tc_behavior_type_t;

#define TC_BEHAVIOR_COUNT 10

/* Fields only a TrafficEvent has. */
typedef struct tc_traffic {
    tc_str_t path;       /* request path as received (query not yet stripped) */
    tc_str_t method;     /* "GET", ... */
    tc_str_t referrer;   /* optional */
    tc_str_t ua_class;   /* "browser", "bot", ... optional */
    uint32_t status;     /* HTTP status, 0 = unknown */
    uint64_t bytes;      /* response size */
    double latency_ms;   /* server-side latency, finite, >= 0 not enforced */
} tc_traffic_t;

/* Fields only a BehaviorEvent has. */
typedef struct tc_behavior {
    tc_behavior_type_t type;
    double value;        /* money value, finite */
    uint32_t quantity;   /* items */
} tc_behavior_t;

/* Fields only an Annotation has. */
typedef struct tc_annotation {
    tc_str_t target;        /* series key or site name; required */
    int64_t valid_from_ms;  /* inclusive */
    int64_t valid_to_ms;    /* exclusive; 0 = open-ended */
    const float *features;  /* n_features finite values (view, same lifetime) */
    size_t n_features;      /* <= TC_EVENT_MAX_FEATURES */
    tc_str_t schema;        /* feature schema name, e.g. "campaign-v1" */
    tc_str_t text;          /* optional free text */
} tc_annotation_t;

/*
 * One decoded event. The common fields are filled for every kind where the
 * message has them (an Annotation has no site, user or session: they are
 * empty, and its target is in annotation.target). Exactly the member of the
 * anonymous union named by kind is meaningful.
 */
typedef struct tc_event {
    tc_event_kind_t kind;
    int64_t time_ms;        /* event time, ms since epoch, > 0 once decoded */
    tc_str_t site;          /* traffic/behavior: required, as received */
    tc_str_t user_id;       /* raw user id; required for behavior */
    tc_str_t session_id;    /* optional */
    union {
        tc_traffic_t traffic;
        tc_behavior_t behavior;
        tc_annotation_t annotation;
    };
} tc_event_t;

/* Returns the lower-case name of a behaviour type ("purchase"), or NULL. */
const char *tc_behavior_name(tc_behavior_type_t type);

/* Returns the type whose lower-case name is s[0..len), or -1 if none. */
int tc_behavior_from_name(const char *s, size_t len);

/* Returns "traffic", "behavior", "annotation" or NULL for TC_EVENT_NONE. */
const char *tc_event_kind_name(tc_event_kind_t kind);

/* Returns the kind named s[0..len) (names as above), or TC_EVENT_NONE. */
tc_event_kind_t tc_event_kind_from_name(const char *s, size_t len);

#endif
