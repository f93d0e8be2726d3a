/*
 * decode.h - input events from protobuf or JSON into tc_event_t, and back.
 *
 * Wire forms accepted (see proto/tidecast/v1/events.proto):
 *   - a bare TrafficEvent, BehaviorEvent or Annotation, as one Kafka message
 *     on a topic whose kind the caller knows (tc_decode_pb);
 *   - an Envelope (oneof traffic/behavior/annotation), the unit of files and
 *     stdin (tc_decode_envelope), where each Envelope is preceded by its
 *     length as a protobuf varint (tc_decode_frame splits that framing);
 *   - one JSON object (one NDJSON line) with the field names of the .proto in
 *     snake_case (tc_decode_json). Unknown JSON fields are ignored.
 *
 * JSON specifics:
 *   - "kind": "traffic" | "behavior" | "annotation" names the message when
 *     the caller passes TC_EVENT_NONE. When the caller passes a kind (the
 *     topic implies it), "kind" may be absent; if present it must agree.
 *   - int64/uint64 fields (event_time_ms, bytes, valid_*_ms) are JSON integers
 *     or strings of decimal digits (the proto3 JSON mapping writes int64 as a
 *     string); double fields are JSON numbers; null means "absent".
 *   - behavior "type" is the lower-case name without prefix ("purchase",
 *     "add_to_cart", ...) or the enum number.
 *   - "features" is an array of numbers.
 *
 * Validation, identical for both formats; each malformed case has its own
 * code and tc_decoder_last_error() gives the reason for a dead-letter record:
 *   TC_EPARSE         not decodable (bad protobuf, bad JSON, not an object,
 *                     truncated frame, Envelope with no event set, a string
 *                     field that is not valid UTF-8)
 *   TC_EMISSING_KEY   a required field is absent or empty: event_time_ms (all
 *                     kinds; a protobuf 0 counts as absent), site (traffic,
 *                     behavior), user_id (behavior), target (annotation)
 *   TC_EBAD_TYPE      a JSON field of the wrong type ("site": 5,
 *                     "status": "x", "status": -1, "bytes": 1.5)
 *   TC_EBAD_TIMESTAMP event time <= 0, before limits.min_time_ms (default
 *                     1990-01-01) or more than limits.max_future_ms after the
 *                     decoder's clock; annotation valid_to_ms <= valid_from_ms
 *                     (when valid_to_ms is set)
 *   TC_EOVERSIZED     message longer than limits.max_message_bytes, a string
 *                     field longer than limits.max_string_bytes (annotation
 *                     text: limits.max_text_bytes), more than
 *                     limits.max_features features
 *   TC_EUNKNOWN_TYPE  unknown "kind", unknown behaviour type (name or number),
 *                     JSON "kind" disagreeing with the kind of the topic
 *   TC_ENAN           a non-finite double (value, latency_ms, a feature)
 * On any error *out is unspecified and must not be used.
 *
 * Memory: a decoder owns one arena, sized once from the limits, into which
 * protobuf-c unpacks (a custom ProtobufCAllocator) and into which JSON strings
 * are copied; every decode call resets it, so the protobuf path allocates
 * nothing per event. The JSON path allocates inside jansson (its allocator is
 * process-global, so we leave it alone). The event filled by a decode call is
 * valid until the next decode call on the same decoder or tc_decoder_free.
 *
 * Threads: a decoder is used by one thread at a time; separate decoders are
 * independent.
 */
#ifndef TC_DECODE_H
#define TC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Limits; zero fields take the defaults given. */
typedef struct tc_decode_limits {
    size_t max_message_bytes; /* whole message or JSON line, default 65536 */
    size_t max_string_bytes;  /* any string field except text, default 2048 */
    size_t max_text_bytes;    /* annotation text, default 16384 */
    size_t max_features;      /* default and ceiling TC_EVENT_MAX_FEATURES */
    int64_t min_time_ms;      /* default 631152000000 (1990-01-01T00:00Z) */
    int64_t max_future_ms;    /* allowed skew ahead of the clock, default
                                 3600000 (1 h); < 0 disables the check */
} tc_decode_limits_t;

/* Fills *limits with the defaults above. */
void tc_decode_limits_default(tc_decode_limits_t *limits);

typedef struct tc_decoder tc_decoder_t;

/*
 * Creates a decoder with the given limits (NULL = defaults; zero fields take
 * defaults). Returns NULL on allocation failure or invalid limits
 * (max_features > TC_EVENT_MAX_FEATURES).
 */
tc_decoder_t *tc_decoder_new(const tc_decode_limits_t *limits);

/* Frees the decoder and invalidates events it filled. NULL is a no-op. */
void tc_decoder_free(tc_decoder_t *dec);

/*
 * Sets the decoder's clock for the future-skew check to now_ms (ms since
 * epoch). With now_ms == 0 (the initial state) the decoder reads
 * CLOCK_REALTIME_COARSE at each decode.
 */
void tc_decoder_set_now(tc_decoder_t *dec, int64_t now_ms);

/*
 * Returns the reason of the last failed decode ("missing field site",
 * "event_time_ms 12 is before 1990-01-01"), or "" after a success. The
 * string is owned by the decoder and valid until the next call on it.
 */
const char *tc_decoder_last_error(const tc_decoder_t *dec);

/* Decodes one bare message of the given kind (a Kafka message). */
int tc_decode_pb(tc_decoder_t *dec, tc_event_kind_t kind, const uint8_t *buf, size_t len,
                 tc_event_t *out);

/* Decodes one Envelope (without its length prefix). */
int tc_decode_envelope(tc_decoder_t *dec, const uint8_t *buf, size_t len, tc_event_t *out);

/*
 * Splits the varint length prefix at buf[0..avail): on success *hdr_len is
 * the prefix size and *msg_len the Envelope size that follows it. Returns
 * TC_EAGAIN if avail is too short to hold the prefix and the message (read
 * more; *hdr_len and *msg_len are set once the prefix itself is complete),
 * TC_EPARSE for a malformed varint, TC_EOVERSIZED if *msg_len > max_len.
 */
int tc_decode_frame(const uint8_t *buf, size_t avail, size_t max_len, size_t *hdr_len,
                    size_t *msg_len);

/*
 * Decodes one JSON object text buf[0..len) (no NUL needed; a trailing
 * newline is allowed). kind is the kind implied by the topic or
 * TC_EVENT_NONE, in which case the object's "kind" decides.
 */
int tc_decode_json(tc_decoder_t *dec, tc_event_kind_t kind, const char *buf, size_t len,
                   tc_event_t *out);

/*
 * Encoding, for the converter and tests. The event's views must follow the
 * rule of event.h (NUL at ptr[len], none before; TC_EINVAL otherwise). Each
 * writes at most cap bytes to buf and sets *len to the size of the encoding;
 * if cap is too small they return TC_ERANGE with *len the size needed.
 * Encoding does not validate the event against the decoder's rules.
 */

/* The bare message of ev->kind (as on a Kafka topic). */
int tc_encode_pb(const tc_event_t *ev, uint8_t *buf, size_t cap, size_t *len);

/* Varint length prefix + Envelope (one record of a file). */
int tc_encode_envelope(const tc_event_t *ev, uint8_t *buf, size_t cap, size_t *len);

/*
 * One JSON object with a "kind" member, no newline, not NUL-terminated
 * unless room remains (then buf[*len] = '\0'). Absent optional strings and
 * zero numbers are omitted. Allocates inside jansson.
 */
int tc_encode_json(const tc_event_t *ev, char *buf, size_t cap, size_t *len);

#endif
