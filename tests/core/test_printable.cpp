#include <string>

#include <gtest/gtest.h>

#include "tttlab/core/printable.hpp"

using tttlab::printable;

TEST(Printable, KeepsPrintableAsciiAndWellFormedUtf8) {
  EXPECT_EQ(printable("descr: '<f4'"), "descr: '<f4'");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(printable("\xc2\xa0"), "\xc2\xa0");  // U+00A0, the first code point after the C1 controls
}

TEST(Printable, EscapesControlCharacters) {
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("line\nnext\ttab\x7f"), "line\\x0anext\\x09tab\\x7f");
  EXPECT_EQ(printable("\xc2\x85"), "\\xc2\\x85");  // U+0085 (NEL), a C1 control
}

TEST(Printable, EscapesInvalidUtf8ByteByByte) {
  EXPECT_EQ(printable("\x93NUMPY"), "\\x93NUMPY");                   // a lone continuation byte
  EXPECT_EQ(printable("\xc3"), "\\xc3");                             // truncated sequence at the end
  EXPECT_EQ(printable("\xc3(x"), "\\xc3(x");                         // lead byte without its continuation
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong, three bytes
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a UTF-16 surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");
}

TEST(Printable, CutsLongInputAtTheLimit) {
  EXPECT_EQ(printable(std::string(10, 'a'), 4), "aaaa...");
  EXPECT_EQ(printable(std::string(4, 'a'), 4), "aaaa");
  EXPECT_EQ(printable(std::string(300, 'x')).size(), 203u);  // the default limit: 200 bytes and "..."
}
