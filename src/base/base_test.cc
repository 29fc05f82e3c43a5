#include <date/date.h>
#include <gtest/gtest.h>
#include <iconv.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/random.h"
#include "base/status.h"
#include "base/text.h"

namespace openrms {
namespace {

TEST(Clock, FormatsAndParsesXrmlTimes) {
  auto t = ParseTime("2010-06-11T20:50");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatXrmlTime(*t), "2010-06-11T20:50");
  EXPECT_EQ(FormatIso8601(*t), "2010-06-11T20:50:00Z");
  EXPECT_EQ(FormatHuman(*t), "2010-06-11 20:50 UTC");
  EXPECT_EQ(ParseTime("2010-06-11T20:50:07Z"), *t + Duration(7));
  EXPECT_FALSE(ParseTime("2010-13-11T20:50"));
  EXPECT_FALSE(ParseTime("yesterday"));
}

TEST(Clock, RefusesDatesThatDoNotExist) {
  ASSERT_TRUE(ParseTime("2024-02-29T00:00"));
  EXPECT_EQ(FormatXrmlTime(*ParseTime("2024-02-29T00:00")), "2024-02-29T00:00");
  for (const char* text : {"2026-02-31T00:00", "2026-02-29T00:00", "2026-04-31T12:00Z",
                           "2026-01-01T24:00", "2026-01-01T12:60",
                           // Leap seconds are refused (see clock.h).
                           "2016-12-31T23:59:60Z"}) {
    EXPECT_FALSE(ParseTime(text)) << text;
  }
}

TEST(Clock, ParsesOnlyTheWholeText) {
  for (const char* text : {"", "Z", "2026-01-01T00:00 ", "2026-01-01T00:00Zjunk",
                           "2026-01-01T00:00:00+01:00", "2026-01-01", "2026-1-01T00:00",
                           "+2026-01-01T00:00", "2026-01-01T00:00:00.", "2026-01-01T00:00.5"}) {
    EXPECT_FALSE(ParseTime(text)) << '"' << text << '"';
  }
  EXPECT_EQ(ParseTime("2026-01-01T00:00:07.999Z"), ParseTime("2026-01-01T00:00:07"));
}

TEST(Clock, FormatsRoundTrip) {
  const Time t = *ParseTime("2026-11-24T23:10:34Z");
  EXPECT_EQ(FormatIso8601(t), "2026-11-24T23:10:34Z");
  EXPECT_EQ(ParseTime(FormatIso8601(t)), t);
  EXPECT_EQ(FormatXrmlTime(t), "2026-11-24T23:10");
  EXPECT_EQ(ParseTime(FormatXrmlTime(t)), RoundToMinute(t));
  EXPECT_EQ(FormatIso8601(RoundToMinute(t)), "2026-11-24T23:10:00Z");
  EXPECT_EQ(FormatIso8601(Time{}), "1970-01-01T00:00:00Z");
}

// The formatters write digits by hand; date::format is the reference they
// must equal, over leap days, the ends of days and years, both ends of the
// four-digit years, and a spread of seconds between.
TEST(Clock, FormatsAsDateFormatDoes) {
  std::vector<Time> times;
  for (const char* text : {"0000-01-01T00:00:00", "0000-02-29T23:59:59", "1969-12-31T23:59:59",
                           "1970-01-01T00:00:00", "2000-02-29T12:00:00", "2024-12-31T23:59:59",
                           "2100-03-01T00:00:00", "9999-12-31T23:59:59"}) {
    times.push_back(*ParseTime(text));
  }
  DeterministicRandom random(7);
  const Time from = times.front();
  const int64_t span = (times.back() - from).count();
  for (int i = 0; i < 20000; ++i) {
    uint8_t bytes[8];
    random.Fill(bytes);
    uint64_t v = 0;
    for (uint8_t c : bytes) v = v << 8 | c;
    times.push_back(from + Duration(static_cast<int64_t>(v % static_cast<uint64_t>(span))));
  }
  for (Time t : times) {
    ASSERT_EQ(FormatIso8601(t), date::format("%Y-%m-%dT%H:%M:%SZ", t));
    ASSERT_EQ(FormatXrmlTime(t), date::format("%Y-%m-%dT%H:%M", t));
    ASSERT_EQ(FormatHuman(t), date::format("%Y-%m-%d %H:%M UTC", t));
  }
  // Outside 0000-9999 the text is date::format's own.
  for (Time t : {from - Duration(1), times[7] + Duration(1), from - Days(400 * 366)}) {
    EXPECT_EQ(FormatIso8601(t), date::format("%Y-%m-%dT%H:%M:%SZ", t));
    EXPECT_EQ(FormatHuman(t), date::format("%Y-%m-%d %H:%M UTC", t));
  }
}

TEST(Clock, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(*ParseTime("2026-01-01T00:00"));
  clock.Advance(Days(30));
  EXPECT_EQ(FormatXrmlTime(clock.Now()), "2026-01-31T00:00");
}

TEST(Random, GuidsHaveTheMsGuidShape) {
  DeterministicRandom r(1);
  const std::string g = NewGuid(r);
  EXPECT_TRUE(IsGuid(g)) << g;
  EXPECT_EQ(g[15], '4');
  EXPECT_NE(NewGuid(r), g);
  EXPECT_FALSE(IsGuid("{not-a-guid}"));
}

TEST(Text, ToLowerAndHex) {
  EXPECT_EQ(ToLower("Content-TYPE \xc3\x89"), "content-type \xc3\x89");
  EXPECT_EQ(HexEncode(std::string("\x00\x0a\xff", 3)), "000aff");
  EXPECT_EQ(HexEncode("\xab", true), "AB");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(Text, XmlEscapingAtEveryPosition) {
  EXPECT_EQ(XmlEscape(""), "");
  EXPECT_EQ(XmlEscape("a"), "a");
  EXPECT_EQ(XmlEscape("&"), "&amp;");
  EXPECT_EQ(XmlEscape("<>\"&"), "&lt;&gt;&quot;&amp;");
  EXPECT_EQ(XmlEscape("a<b"), "a&lt;b");
  EXPECT_EQ(XmlEscape("'\n\t"), "'\n\t");  // apostrophes and white space stay
  EXPECT_EQ(XmlEscape(std::string_view("a\0<", 3)), std::string("a\0&lt;", 6));
  // Against a byte-by-byte escaper, over texts of each length up to 64
  // with the specials at random places, and one long plain text.
  auto reference = [](std::string_view t) {
    std::string out;
    for (char c : t) {
      out += c == '&'   ? "&amp;"
             : c == '<' ? "&lt;"
             : c == '>' ? "&gt;"
             : c == '"' ? "&quot;"
                        : std::string(1, c);
    }
    return out;
  };
  DeterministicRandom random(7);
  for (size_t n = 0; n <= 64; ++n) {
    for (int round = 0; round < 20; ++round) {
      std::string t(n, 'x');
      for (char& c : t) {
        uint8_t b = 0;
        random.Fill({&b, 1});
        c = "&<>\"ab=/"[b % 8];
      }
      std::string appended = "kept:";
      AppendXmlEscaped(t, appended);
      ASSERT_EQ(appended, "kept:" + reference(t)) << t;
    }
  }
  const std::string plain(10000, 'Q');
  EXPECT_EQ(XmlEscape(plain + "&" + plain), plain + "&amp;" + plain);
}

TEST(Text, ValidUtf8KeepsValidTextAndReplacesEachBadByte) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(ValidUtf8(""), "");
  EXPECT_EQ(ValidUtf8("a"), "a");
  // One to four bytes, the largest code point, and one below the surrogates.
  const std::string valid = "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\xED\x9F\xBF";
  EXPECT_EQ(ValidUtf8(valid), valid);
  EXPECT_EQ(ValidUtf8("\xFF"), fffd);
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)), "a" + fffd + "b");       // PostgreSQL refuses NUL
  EXPECT_EQ(ValidUtf8("x\xC3"), "x" + fffd);                            // cut short at the end
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), fffd + fffd);                        // overlong
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), fffd + fffd + fffd);             // a surrogate
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
  EXPECT_EQ(ValidUtf8("\xE2\x82\xACz\x80"), "\xE2\x82\xACz" + fffd);
}

TEST(Text, Utf16RoundTrip) {
  auto u16 = Utf8ToUtf16Le("A\xc3\xa9");
  ASSERT_TRUE(u16.ok());
  EXPECT_EQ(*u16, std::string("A\0\xe9\0", 4));
  EXPECT_EQ(*Utf16LeToUtf8("\xff\xfe" + *u16), "A\xc3\xa9");
  EXPECT_EQ(Utf8ToUtf16Le("\xff").status().code(), Code::kMalformed);
}

// The edges of both conversions, each way.
TEST(Text, Utf16Edges) {
  EXPECT_EQ(*Utf8ToUtf16Le(""), "");
  EXPECT_EQ(*Utf16LeToUtf8(""), "");
  EXPECT_EQ(*Utf16LeToUtf8("\xff\xfe"), "");  // a byte-order mark alone
  EXPECT_EQ(*Utf8ToUtf16Le(std::string("\0", 1)), std::string("\0\0", 2));
  EXPECT_EQ(*Utf16LeToUtf8(std::string("\0\0", 2)), std::string("\0", 1));
  // U+07FF, U+0800, U+FFFF, U+10000 and U+10FFFF: each length's ends.
  const std::string utf8 = "\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
  const std::string utf16("\xFF\x07\x00\x08\xFF\xFF\x00\xD8\x00\xDC\xFF\xDB\xFF\xDF", 14);
  EXPECT_EQ(*Utf8ToUtf16Le(utf8), utf16);
  EXPECT_EQ(*Utf16LeToUtf8(utf16), utf8);
  for (const char* bad : {"\xC3", "\xC0\xAF", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "\xF8\x88\x80\x80\x80", "a\x80", "\xE2\x82"}) {
    auto r = Utf8ToUtf16Le(bad);
    EXPECT_EQ(r.status().code(), Code::kMalformed) << HexEncode(bad);
    EXPECT_EQ(r.status().message(), "text is not valid UTF-8");
  }
  for (const std::string& bad :
       {std::string("a", 1), std::string("\x00\xD8", 2), std::string("\x00\xDC\x41\x00", 4),
        std::string("\x00\xD8\x41\x00", 4), std::string("\x41\x00\x42", 3)}) {
    auto r = Utf16LeToUtf8(bad);
    EXPECT_EQ(r.status().code(), Code::kMalformed) << HexEncode(bad);
    EXPECT_EQ(r.status().message(), "text is not valid UTF-16LE");
  }
}

// Every code point converts as glibc's iconv converts it, both ways.
TEST(Text, Utf16AgreesWithIconv) {
  std::string utf8;
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x10000 ? 1 : 61)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp < 0x80) {
      utf8 += static_cast<char>(cp);
    } else if (cp < 0x800) {
      utf8 += static_cast<char>(0xC0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      utf8 += static_cast<char>(0xE0 | (cp >> 12));
      utf8 += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      utf8 += static_cast<char>(0xF0 | (cp >> 18));
      utf8 += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      utf8 += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  auto iconv_convert = [](const char* to, const char* from, const std::string& in) {
    iconv_t cd = iconv_open(to, from);
    EXPECT_NE(cd, reinterpret_cast<iconv_t>(-1));
    std::string out(in.size() * 2, '\0');
    char* inp = const_cast<char*>(in.data());
    char* outp = out.data();
    size_t inleft = in.size(), outleft = out.size();
    EXPECT_NE(iconv(cd, &inp, &inleft, &outp, &outleft), static_cast<size_t>(-1));
    iconv_close(cd);
    out.resize(out.size() - outleft);
    return out;
  };
  const std::string expected = iconv_convert("UTF-16LE", "UTF-8", utf8);
  auto utf16 = Utf8ToUtf16Le(utf8);
  ASSERT_TRUE(utf16.ok());
  EXPECT_TRUE(*utf16 == expected);
  auto back = Utf16LeToUtf8(expected);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == iconv_convert("UTF-8", "UTF-16LE", expected));
  EXPECT_TRUE(*back == utf8);
}

TEST(Status, ResultCarriesValueOrError) {
  Result<std::string> ok = std::string("three");
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "three");
  Result<int> bad = Status(Code::kNotFound, "no such thing");
  EXPECT_EQ(bad.status().ToString(), "not-found: no such thing");
}

}  // namespace
}  // namespace openrms

namespace openrms {
namespace {

TEST(Json, RefusesDeepNestingBeforeParsing) {
  const std::string deep = std::string(60000, '[') + std::string(60000, ']');
  auto r = ParseJson(deep);
  EXPECT_EQ(r.status().code(), Code::kTooLarge);
  EXPECT_EQ(r.status().message(), "the JSON document nests deeper than 32 levels");
  // Exactly the limit parses; one more does not.
  EXPECT_TRUE(ParseJson(std::string(32, '[') + std::string(32, ']')).ok());
  EXPECT_FALSE(ParseJson(std::string(33, '{') + std::string(33, '}')).ok());
  // Brackets inside strings do not count, escaped quotes included.
  EXPECT_TRUE(
      ParseJson("[\"" + std::string(100, '[') + "\\\"" + std::string(100, '{') + "\"]").ok());
  EXPECT_EQ(ParseJson("{").status().message(), "the body is not JSON");
  EXPECT_EQ(ParseJson("").status().code(), Code::kMalformed);
  JsonLimits small;
  small.max_bytes = 4;
  EXPECT_EQ(ParseJson("[1,2]", small).status().code(), Code::kTooLarge);
  EXPECT_TRUE(ParseJson("[12]", small).ok());
}

TEST(Json, IntegersMustFitTheirFieldExactly) {
  auto j = *ParseJson(
      R"({"a": 30, "big": 9223372036854775808, "wrap": 4294967326, "frac": 30.9, "neg": -1,
          "s": "30", "n": null, "max": 36500})");
  EXPECT_EQ(*IntField(j, "a", 7, 0, 36500), 30);
  EXPECT_EQ(*IntField(j, "missing", 7, 0, 36500), 7);
  EXPECT_EQ(*IntField(j, "n", 7, 0, 36500), 7);
  EXPECT_EQ(*IntField(j, "max", 7, 0, 36500), 36500);
  for (const char* bad : {"big", "wrap", "frac", "neg", "s"}) {
    auto r = IntField(j, bad, 7, 0, 36500);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message(), std::string(bad) + " must be a whole number from 0 to 36500");
  }
  EXPECT_EQ(IntField(j, "max", 7, 0, 36499).status().code(), Code::kInvalidArgument);
}

TEST(Json, BooleansAndStringsNameTheFieldOnATypeError) {
  auto j = *ParseJson(R"({"t": "yes", "b": true, "s": "hi", "i": 3})");
  EXPECT_EQ(BoolField(j, "t", false).status().message(), "t must be true or false");
  EXPECT_TRUE(*BoolField(j, "b", false));
  EXPECT_FALSE(*BoolField(j, "missing", false));
  EXPECT_EQ(*StringField(j, "s"), "hi");
  EXPECT_EQ(StringField(j, "i").status().message(), "i must be a string");
  EXPECT_EQ(StringField(j, "s", "", 1).status().message(), "s must be at most 1 bytes long");
  // Not an object: every field is absent.
  EXPECT_EQ(*StringField(nlohmann::json::array(), "s", "x"), "x");
}

TEST(Json, StringArraysHoldOnlyStringsWithinTheirLimits) {
  auto j = *ParseJson(R"({"a": ["x", "yz"], "e": [], "n": null, "mixed": ["x", 1],
                          "s": "x", "nested": [["x"]]})");
  EXPECT_EQ(*StringArrayField(j, "a"), (std::vector<std::string>{"x", "yz"}));
  EXPECT_TRUE(StringArrayField(j, "e")->empty());
  EXPECT_TRUE(StringArrayField(j, "n")->empty());
  EXPECT_TRUE(StringArrayField(j, "missing")->empty());
  for (const char* bad : {"mixed", "s", "nested"}) {
    auto r = StringArrayField(j, bad, 2, 8);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message(),
              std::string(bad) + " must be an array of at most 2 strings of at most 8 bytes");
  }
  EXPECT_FALSE(StringArrayField(j, "a", 1, 8).ok());  // too many
  EXPECT_FALSE(StringArrayField(j, "a", 2, 1).ok());  // too long
}

TEST(Json, WritingInvalidUtf8ReplacesItInsteadOfThrowing) {
  const nlohmann::json j = {{"Message", std::string("caf\xC3", 4)}, {"n", 1}};
  EXPECT_EQ(WriteJson(j), "{\"Message\":\"caf\xEF\xBF\xBD\",\"n\":1}");
}

TEST(Json, QuotedTextIsWhatWriteJsonWrites) {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  std::string ascii = every_byte.substr(0, 128);
  for (const std::string& text :
       {std::string(), std::string("a"), std::string("\""), std::string("\\"), ascii, every_byte,
        std::string("<a b=\"c\">\r\n\t/\x7f</a>"), std::string("caf\xC3\xA9"),
        std::string("caf\xC3", 4), std::string(1, '\0'), std::string(20000, 'x') + "\n"}) {
    SCOPED_TRACE(text.substr(0, 40));
    EXPECT_EQ(JsonQuoted(text), WriteJson(nlohmann::json(text)));
  }
  EXPECT_EQ(JsonQuoted(std::string("\x01\x1f\b", 3)), "\"\\u0001\\u001f\\b\"");
}

}  // namespace
}  // namespace openrms

namespace openrms {
namespace {

TEST(ForRemoteCaller, HidesInternalDetailBehindAReference) {
  for (Code c : {Code::kInternal, Code::kIo, Code::kDataLoss, Code::kUnavailable}) {
    const Status s = ForRemoteCaller(Status(c, "disk I/O error at /var/lib/openrms/openrms.db"));
    EXPECT_EQ(s.code(), c);
    EXPECT_EQ(s.message().find("/var/lib"), std::string::npos);
    const std::string start = c == Code::kUnavailable
                                  ? "the service is unavailable for a moment (reference "
                                  : "an internal error occurred (reference ";
    EXPECT_EQ(s.message().rfind(start, 0), 0u) << s.message();
  }
  // An outage's many failures are each told to their caller, with a
  // reference of their own.
  const Status a = ForRemoteCaller(Status(Code::kUnavailable, "PostgreSQL is not available"));
  const Status b = ForRemoteCaller(Status(Code::kUnavailable, "PostgreSQL is not available"));
  EXPECT_NE(a.message(), b.message());
  EXPECT_NE(a.message().find("): try again in a few seconds"), std::string::npos) << a.message();
  // Two references differ.
  EXPECT_NE(ForRemoteCaller(Status(Code::kIo, "x")).message(),
            ForRemoteCaller(Status(Code::kIo, "x")).message());
  // The caller's own mistakes are told as they are.
  const Status mine(Code::kInvalidArgument, "IntervalTimeInDays must be a whole number");
  EXPECT_EQ(ForRemoteCaller(mine).message(), mine.message());
}

TEST(TextTest, ParseIntTakesWholeDecimalIntegersOnly) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_EQ(ParseInt("0"), 0);
  EXPECT_EQ(ParseInt("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseInt("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", "+1", " 1", "1 ", "1x", "0x10", "1.5", "-", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999999"}) {
    EXPECT_EQ(ParseInt(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace openrms
