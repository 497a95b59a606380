/* test_grpc.c -- gRPC wire rules: message prefix, reader, grpc-timeout, grpc-message, content-type
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/status.h"
#include "transport/grpc.h"
#include "unit.h"

TEST(prefix_parse)
{
    const uint8_t plain[5] = {0, 0x01, 0x02, 0x03, 0x04};
    const uint8_t zipped[5] = {1, 0, 0, 0, 7};
    const uint8_t bad[5] = {2, 0, 0, 0, 0};
    int compressed = -1;
    uint32_t len = 0;

    CHECK_INT(hk_grpc_prefix_parse(plain, &compressed, &len), 0);
    CHECK_INT(compressed, 0);
    CHECK_INT(len, 0x01020304);
    CHECK_INT(hk_grpc_prefix_parse(zipped, &compressed, &len), 0);
    CHECK_INT(compressed, 1);
    CHECK_INT(len, 7);
    CHECK_INT(hk_grpc_prefix_parse(bad, &compressed, &len), HK_EINVAL);
}

TEST(prefix_write)
{
    uint8_t p[5];
    int compressed;
    uint32_t len;

    hk_grpc_prefix_write(p, 0xA1B2C3D4u);
    CHECK_INT(p[0], 0);
    CHECK_INT(p[1], 0xA1);
    CHECK_INT(p[4], 0xD4);
    CHECK_INT(hk_grpc_prefix_parse(p, &compressed, &len), 0);
    CHECK_INT(len, 0xA1B2C3D4u);
}

static int timeout_of(const char *s, uint64_t *ns)
{
    return hk_grpc_timeout_parse(s, strlen(s), ns);
}

TEST(timeout_units)
{
    uint64_t ns = 0;

    CHECK_INT(timeout_of("1H", &ns), 0);
    CHECK(ns == 3600ull * 1000000000ull);
    CHECK_INT(timeout_of("3M", &ns), 0);
    CHECK(ns == 180ull * 1000000000ull);
    CHECK_INT(timeout_of("10S", &ns), 0);
    CHECK(ns == 10ull * 1000000000ull);
    CHECK_INT(timeout_of("100m", &ns), 0);
    CHECK(ns == 100ull * 1000000ull);
    CHECK_INT(timeout_of("5u", &ns), 0);
    CHECK(ns == 5000ull);
    CHECK_INT(timeout_of("1n", &ns), 0);
    CHECK(ns == 1ull);
    CHECK_INT(timeout_of("0S", &ns), 0);
    CHECK(ns == 0ull);
    CHECK_INT(timeout_of("00000001m", &ns), 0); /* 8 digits, leading zeros allowed */
    CHECK(ns == 1000000ull);
    CHECK_INT(timeout_of("99999999n", &ns), 0);
    CHECK(ns == 99999999ull);
}

TEST(timeout_saturates)
{
    uint64_t ns = 0;

    /* 99999999 hours does not fit in 64 bits of nanoseconds. */
    CHECK_INT(timeout_of("99999999H", &ns), 0);
    CHECK(ns == UINT64_MAX);
    CHECK_INT(timeout_of("99999999S", &ns), 0);
    CHECK(ns == 99999999ull * 1000000000ull);
}

TEST(timeout_bad)
{
    static const char *bad[] = {
        "",    "S",   "1",   "123456789S", "1s",  "1h",   "-1S",
        "+1S", " 1S", "1S ", "1.5S",       "1SS", "0x1S", "1Z",
    };
    uint64_t ns = 42;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (timeout_of(bad[i], &ns) != HK_EINVAL) {
            hk_test_failed(__FILE__, __LINE__, bad[i]);
            return;
        }
    }
    CHECK(ns == 42); /* untouched on failure */
    /* Not NUL-terminated: only n bytes count. */
    CHECK_INT(hk_grpc_timeout_parse("15Sxyz", 3, &ns), 0);
    CHECK(ns == 15ull * 1000000000ull);
}

static int encoded_is(const char *in, size_t max, const char *want)
{
    char *out = NULL;
    if (hk_grpc_message_encode(in, max, &out) != 0) return 0;
    int same = strcmp(out, want) == 0;
    if (!same) fprintf(stderr, "  encoded \"%s\", want \"%s\"\n", out, want);
    free(out);
    return same;
}

TEST(message_encode_golden)
{
    CHECK(encoded_is("", 1024, ""));
    CHECK(encoded_is(NULL, 1024, ""));
    CHECK(encoded_is("name: must not be empty", 1024, "name: must not be empty"));
    CHECK(encoded_is("100%", 1024, "100%25"));
    CHECK(encoded_is("a\r\nb\tc", 1024, "a%0D%0Ab%09c"));
    CHECK(encoded_is("\x7f~ ", 1024, "%7F~ "));
    /* UTF-8 bytes are encoded one by one ("é" is C3 A9, "€" E2 82 AC). */
    CHECK(encoded_is("caf\xc3\xa9 \xe2\x82\xac", 1024, "caf%C3%A9 %E2%82%AC"));
    /* The gRPC spec's own example. */
    CHECK(encoded_is("my message \xe2\x9c\x93", 1024, "my message %E2%9C%93"));
}

TEST(message_encode_cut)
{
    CHECK(encoded_is("abcdef", 3, "abc"));
    /* "é" would be cut in half at 4 bytes: drop it whole. */
    CHECK(encoded_is("caf\xc3\xa9", 4, "caf"));
    CHECK(encoded_is("caf\xc3\xa9", 5, "caf%C3%A9"));
    CHECK(encoded_is("\xe2\x82\xac\xe2\x82\xac", 5, "%E2%82%AC"));
}

TEST(content_type)
{
    CHECK_INT(hk_grpc_content_type_ok("application/grpc", 16), 1);
    CHECK_INT(hk_grpc_content_type_ok("application/grpc+proto", 22), 1);
    CHECK_INT(hk_grpc_content_type_ok("application/grpc;charset=utf-8", 30), 1);
    CHECK_INT(hk_grpc_content_type_ok("Application/GRPC", 16), 1);
    CHECK_INT(hk_grpc_content_type_ok("application/grpcx", 17), 0);
    CHECK_INT(hk_grpc_content_type_ok("application/json", 16), 0);
    CHECK_INT(hk_grpc_content_type_ok("application/grp", 15), 0);
    CHECK_INT(hk_grpc_content_type_ok("", 0), 0);
}

TEST(reader_whole_and_split)
{
    const uint8_t wire[] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
    const uint8_t *msg;
    size_t len;

    /* In one piece. */
    hk_grpc_reader_t r = {.max = 16};
    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), 0);
    CHECK_INT(hk_grpc_reader_finish(&r, &msg, &len), 0);
    CHECK_INT(len, 3);
    CHECK(memcmp(msg, "abc", 3) == 0);
    hk_grpc_reader_free(&r);

    /* A byte at a time: the prefix itself may be split. */
    hk_grpc_reader_t s = {.max = 16};
    for (size_t i = 0; i < sizeof wire; i++)
        CHECK_INT(hk_grpc_reader_feed(&s, wire + i, 1), 0);
    CHECK_INT(hk_grpc_reader_finish(&s, &msg, &len), 0);
    CHECK_INT(len, 3);
    CHECK(memcmp(msg, "abc", 3) == 0);
    hk_grpc_reader_free(&s);
}

TEST(reader_empty_message)
{
    const uint8_t wire[] = {0, 0, 0, 0, 0};
    const uint8_t *msg = NULL;
    size_t len = 9;
    hk_grpc_reader_t r = {.max = 16};

    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), 0);
    CHECK_INT(hk_grpc_reader_finish(&r, &msg, &len), 0);
    CHECK(msg != NULL);
    CHECK_INT(len, 0);
    hk_grpc_reader_free(&r);
}

TEST(reader_too_big_at_prefix)
{
    /* 5 MiB announced, limit 4 MiB: refused on the prefix alone. */
    const uint8_t wire[] = {0, 0x00, 0x50, 0x00, 0x00};
    hk_grpc_reader_t r = {.max = 4u << 20};

    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), HK_ETOOBIG);
    CHECK_INT(r.status, HK_STATUS_RESOURCE_EXHAUSTED);
    CHECK_STR(r.error, "message of 5242880 bytes exceeds the limit of 4194304");
    CHECK(r.buf == NULL); /* nothing buffered */
    hk_grpc_reader_free(&r);
}

TEST(reader_limit_is_inclusive)
{
    const uint8_t wire[] = {0, 0, 0, 0, 4, 1, 2, 3, 4};
    const uint8_t *msg;
    size_t len;
    hk_grpc_reader_t r = {.max = 4};

    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), 0);
    CHECK_INT(hk_grpc_reader_finish(&r, &msg, &len), 0);
    CHECK_INT(len, 4);
    hk_grpc_reader_free(&r);
}

TEST(reader_compressed)
{
    const uint8_t wire[] = {1, 0, 0, 0, 2, 'x', 'y'};
    hk_grpc_reader_t r = {.max = 16};

    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), HK_EINVAL);
    CHECK_INT(r.status, HK_STATUS_UNIMPLEMENTED);
    CHECK_INT(r.compressed, 1);
    hk_grpc_reader_free(&r);
}

TEST(reader_bad_flag)
{
    const uint8_t wire[] = {0x80, 0, 0, 0, 0};
    hk_grpc_reader_t r = {.max = 16};

    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), HK_EINVAL);
    CHECK_INT(r.status, HK_STATUS_INTERNAL);
    hk_grpc_reader_free(&r);
}

TEST(reader_second_message)
{
    const uint8_t wire[] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b'};
    hk_grpc_reader_t r = {.max = 16};

    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), HK_EINVAL);
    CHECK_INT(r.status, HK_STATUS_INTERNAL);
    hk_grpc_reader_free(&r);
}

TEST(reader_truncated)
{
    const uint8_t wire[] = {0, 0, 0, 0, 9, 'a', 'b'};
    const uint8_t *msg;
    size_t len;

    hk_grpc_reader_t none = {.max = 16};
    CHECK_INT(hk_grpc_reader_finish(&none, &msg, &len), HK_EINVAL);
    CHECK_INT(none.status, HK_STATUS_INTERNAL);
    CHECK_STR(none.error, "the request has no message");

    hk_grpc_reader_t part = {.max = 16};
    CHECK_INT(hk_grpc_reader_feed(&part, wire, sizeof wire), 0);
    CHECK_INT(hk_grpc_reader_finish(&part, &msg, &len), HK_EINVAL);
    CHECK_STR(part.error, "the request ended inside a message (2 of 9 bytes)");
    hk_grpc_reader_free(&part);

    hk_grpc_reader_t half_prefix = {.max = 16};
    CHECK_INT(hk_grpc_reader_feed(&half_prefix, wire, 3), 0);
    CHECK_INT(hk_grpc_reader_finish(&half_prefix, &msg, &len), HK_EINVAL);
    hk_grpc_reader_free(&half_prefix);
}

TEST(reader_grows_with_data)
{
    /* A 1 MiB announcement with 10 bytes sent must not allocate 1 MiB. */
    uint8_t wire[15] = {0, 0x00, 0x10, 0x00, 0x00};
    hk_grpc_reader_t r = {.max = 2u << 20};

    CHECK_INT(hk_grpc_reader_feed(&r, wire, sizeof wire), 0);
    CHECK(r.cap < 65536);
    CHECK_INT(r.have, 10);
    hk_grpc_reader_free(&r);
}
