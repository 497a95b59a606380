/* wire.h -- checks on a request's wire bytes that protobuf-c's unpack cannot make */
#ifndef HK_WIRE_H
#define HK_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* protobuf-c hands string fields over as C strings, so a string holding a NUL byte
 * would silently lose everything after it ("order-42\0created" == "order-42").
 * This walks the serialized message of type desc (and every sub-message it holds,
 * up to HK_WIRE_DEPTH_MAX deep) and checks each string field's bytes as sent: no
 * NUL, valid UTF-8 (proto3's rule for string). Returns 0, or HK_EINVAL with
 * "event_id: contains a NUL byte" / "name: is not valid UTF-8" in err (the field's
 * proto name; nested fields as "webhook.name"). Bytes that are not a well-formed
 * message are left to protobuf_c_message_unpack to refuse: they return 0 here. */
int hk_wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                          char *err, size_t errlen);

#define HK_WIRE_DEPTH_MAX 16

#endif
