/* pbjson.h -- proto3 JSON <-> protobuf-c messages, driven by the descriptors alone */
#ifndef HK_PBJSON_H
#define HK_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Messages nested deeper than this (the outermost is level 1) are refused
 * both ways: the codec recurses. */
#define HK_PBJSON_MAX_DEPTH 32

/* The mapping is protobuf.dev's proto3 JSON for the types hookd.v1 uses:
 * fields named lowerCamelCase on output, lowerCamelCase or the proto name on
 * input; enums by value name (numbers accepted on input, and written for a
 * value the descriptor does not know); 64-bit integers as decimal strings
 * (JSON numbers accepted on input when they are exact integers); 32-bit
 * integers as numbers (decimal strings accepted); bytes as padded standard
 * base64 (input: standard or URL-safe, padded or not); repeated fields as
 * arrays; messages as objects; `null` on input means the field is not set.
 * Output leaves out fields at their default value, except a oneof member
 * that is set: this covers proto3 `optional`, which the build turns into a
 * oneof `_x` of one member (see HK_HAS in rpc.h); it is present exactly when
 * its case says so. Setting two members of one oneof is refused.
 * Refused as "unsupported" (hookd.v1 has none): float and double, map
 * fields, google.protobuf well-known types, proto2 labels. */

/* Decodes the proto3 JSON form (a JSON object) of a message of type desc into
 * *out (free with protobuf_c_message_free_unpacked(*out, NULL)). Returns 0,
 * HK_EINVAL with the reason in err (size errlen), naming the field by its
 * proto name and path ("webhooks[1].trigger_action: expected a string"), for
 * bad JSON, wrong types, unknown or repeated fields, unknown enum names, bad
 * base64, out-of-range or inexact numbers, strings with a NUL or not UTF-8,
 * nesting deeper than HK_PBJSON_MAX_DEPTH and unsupported fields; or
 * HK_ENOMEM. *out is set only on success. */
int hk_pbjson_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *json, size_t len,
                     ProtobufCMessage **out, char *err, size_t errlen);

/* Encodes msg as compact proto3 JSON into *out (malloc'd, NUL-terminated;
 * *len is its length without the NUL), fields in descriptor order. Returns
 * 0, HK_EINVAL (a string field that is not valid UTF-8, an unsupported field
 * that is set, nesting deeper than HK_PBJSON_MAX_DEPTH) or HK_ENOMEM. */
int hk_pbjson_encode(const ProtobufCMessage *msg, char **out, size_t *len);

/* The Connect error body {"code":"<code>","message":"<message>"} into *out
 * (malloc'd, NUL-terminated, *len without the NUL); "message" is left out
 * when message is NULL. Both are escaped; invalid UTF-8 in message becomes
 * U+FFFD. Returns 0 or HK_ENOMEM. */
int hk_pbjson_error(const char *code, const char *message, char **out, size_t *len);

#endif
