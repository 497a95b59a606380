/* pbjson.h -- protobuf messages in protobuf's JSON mapping, generically from their descriptors */
#ifndef HK_PBJSON_H
#define HK_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes JSON (len bytes) as a message of desc. Returns 0 with a message in
 * *out (freed with protobuf_c_message_free_unpacked(*out, NULL)), or a
 * negative HK_E* with a message naming the field in err. */
int hk_pbjson_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *json, size_t len,
                     ProtobufCMessage **out, char *err, size_t errlen);

/* Encodes msg as JSON. Returns 0 with a malloc'd buffer (the caller frees
 * it) in *out and its length in *len, or a negative HK_E*. */
int hk_pbjson_encode(const ProtobufCMessage *msg, char **out, size_t *len);

/* A Connect error body, {"code":"<code>","message":"<message>"}. Returns 0
 * with a malloc'd buffer in *out and *len, or HK_ENOMEM. */
int hk_pbjson_error(const char *code, const char *message, char **out, size_t *len);

#endif
