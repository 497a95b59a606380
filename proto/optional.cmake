# optional.cmake -- rewrites proto3 `optional T x = N;` as `oneof _x { T x = N; }`
# (the same wire format and presence) for protoc-c 1.4, which lacks proto3 optional.
# Usage: cmake -DIN=a.proto -DOUT=b.proto -P optional.cmake
file(READ ${IN} text)
string(REGEX REPLACE "([\n])([ \t]*)optional[ \t]+([A-Za-z0-9_.]+)[ \t]+([A-Za-z0-9_]+)[ \t]*=[ \t]*([0-9]+)[ \t]*;"
       "\\1\\2oneof _\\4 { \\3 \\4 = \\5; }" text "${text}")
file(WRITE ${OUT} "${text}")
