#include "http/forms.h"

#include <gtest/gtest.h>

#include <string>

namespace openrms::http {
namespace {

TEST(UrlEncoded, DecodesPercentEscapesAndPlus) {
  auto form = ParseUrlEncoded(
      "name=J%C3%BCrgen+M%C3%BCller&email=a%40b.example&empty=&flag&"
      "math=1%2B1%3D2&&space=%20x%20");
  ASSERT_TRUE(form.ok()) << form.status().ToString();
  EXPECT_EQ(form->at("name"), "J\xC3\xBCrgen M\xC3\xBCller");
  EXPECT_EQ(form->at("email"), "a@b.example");
  EXPECT_EQ(form->at("empty"), "");
  EXPECT_EQ(form->at("flag"), "");
  EXPECT_EQ(form->at("math"), "1+1=2");
  EXPECT_EQ(form->at("space"), " x ");
  EXPECT_EQ(form->size(), 6u);
}

TEST(UrlEncoded, NamesAreDecodedAndTheFirstRepeatWins) {
  auto form = ParseUrlEncoded("a+b%5B%5D=1&a+b%5B%5D=2");
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(form->at("a b[]"), "1");
}

TEST(UrlEncoded, EmptyBodyIsAnEmptyForm) {
  auto form = ParseUrlEncoded("");
  ASSERT_TRUE(form.ok());
  EXPECT_TRUE(form->empty());
}

TEST(UrlEncoded, BadEscapesAreMalformed) {
  for (const char* body : {"a=%zz", "a=%4", "a=100%", "%G1=x", "ok=1&b=%%41"}) {
    auto form = ParseUrlEncoded(body);
    ASSERT_FALSE(form.ok()) << body;
    EXPECT_EQ(form.status().code(), Code::kMalformed) << body;
    EXPECT_NE(form.status().message().find("percent-escape"), std::string::npos)
        << form.status().message();
  }
  EXPECT_NE(ParseUrlEncoded("ok=1&b=%zz").status().message().find("at byte 7"), std::string::npos);
}

TEST(UrlEncoded, TooManyFieldsIsTooLarge) {
  std::string body;
  for (int i = 0; i < 1001; ++i) {
    body += 'f';
    body += std::to_string(i);
    body += "=1&";
  }
  EXPECT_EQ(ParseUrlEncoded(body).status().code(), Code::kTooLarge);
}

TEST(PercentCoding, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  const std::string encoded = PercentEncode(all);
  EXPECT_EQ(encoded.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"),
            std::string::npos);
  EXPECT_EQ(PercentDecode(encoded, false), all);
  EXPECT_EQ(PercentEncode("a b/c?d=e&f"), "a%20b%2Fc%3Fd%3De%26f");
  EXPECT_EQ(PercentDecode("a+b%2B", true), "a b+");
  EXPECT_EQ(PercentDecode("a+b%2B", false), "a+b+");
  EXPECT_EQ(PercentDecode("100%", false), "100%");  // a stray '%' stays
}

// What Chrome sends for a form with a text field, a file and an empty file
// input (the file content has CRLFs, dashes and bytes that are not UTF-8).
const char kBoundary[] = "----WebKitFormBoundaryq1MzX8ZJ3u7bU2aP";

std::string ChromeBody(const std::string& file_data) {
  const std::string b = std::string("--") + kBoundary;
  return b +
         "\r\n"
         "Content-Disposition: form-data; name=\"description\"\r\n"
         "\r\n"
         "Quarterly report\r\nsecond line\r\n" +
         b + "\r\n" +
         "Content-Disposition: form-data; name=\"upload\"; filename=\"report Q3.docx\"\r\n"
         "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\r\n"
         "\r\n" +
         file_data + "\r\n" + b + "\r\n" +
         "Content-Disposition: form-data; name=\"extra\"; filename=\"\"\r\n"
         "Content-Type: application/octet-stream\r\n"
         "\r\n"
         "\r\n" +
         b + "--\r\n";
}

TEST(Multipart, ParsesABrowserUploadWithAFile) {
  std::string file_data = "PK\x03\x04";
  file_data += std::string("\0\xff\xfe", 3);
  file_data += "\r\n--not-the-boundary\r\n----WebKitFormBoundary\r\n\r\nend";
  const std::string content_type = std::string("multipart/form-data; boundary=") + kBoundary;
  auto parts = ParseMultipart(content_type, ChromeBody(file_data));
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "description");
  EXPECT_EQ((*parts)[0].filename, "");
  EXPECT_EQ((*parts)[0].content_type, "");
  EXPECT_EQ((*parts)[0].data, "Quarterly report\r\nsecond line");
  EXPECT_EQ((*parts)[1].name, "upload");
  EXPECT_EQ((*parts)[1].filename, "report Q3.docx");
  EXPECT_EQ((*parts)[1].content_type,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ((*parts)[1].data, file_data);
  EXPECT_EQ((*parts)[2].name, "extra");
  EXPECT_EQ((*parts)[2].data, "");
}

TEST(Multipart, AcceptsQuotedBoundaryPreambleAndCaseInsensitiveHeaders) {
  const std::string body =
      "This is a preamble.\r\n"
      "--simple boundary\r\n"
      "content-disposition: FORM-DATA; NAME=\"a\"\r\n"
      "\r\n"
      "1\r\n"
      "--simple boundary  \r\n"
      "Content-Disposition: form-data; name=\"f\"; filename=\"C:\\Users\\me\\x.txt\"\r\n"
      "\r\n"
      "2\r\n"
      "--simple boundary--\r\n"
      "epilogue";
  auto parts =
      ParseMultipart("Multipart/Form-Data; charset=utf-8; boundary=\"simple boundary\"", body);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "a");
  EXPECT_EQ((*parts)[0].data, "1");
  EXPECT_EQ((*parts)[1].filename, "C:\\Users\\me\\x.txt");  // backslashes are not escapes
  EXPECT_EQ((*parts)[1].data, "2");
}

TEST(Multipart, DecodesRfc5987FileNames) {
  const std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC%20rates.txt\r\n"
      "\r\n"
      "x\r\n"
      "--b--";
  auto parts = ParseMultipart("multipart/form-data; boundary=b", body);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_EQ((*parts)[0].filename, "\xE2\x82\xAC rates.txt");
}

TEST(Multipart, EmptyFormHasNoParts) {
  auto parts = ParseMultipart("multipart/form-data; boundary=b", "--b--\r\n");
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->empty());
}

void ExpectMalformed(std::string_view content_type, std::string_view body,
                     std::string_view message_part) {
  auto parts = ParseMultipart(content_type, body);
  ASSERT_FALSE(parts.ok()) << body;
  EXPECT_EQ(parts.status().code(), Code::kMalformed);
  EXPECT_NE(parts.status().message().find(message_part), std::string::npos)
      << parts.status().message();
}

TEST(Multipart, RefusesMalformedBodiesWithClearMessages) {
  const std::string ct = "multipart/form-data; boundary=b";
  ExpectMalformed("application/x-www-form-urlencoded", "--b--", "not multipart/form-data");
  ExpectMalformed("multipart/form-data", "--b--", "no boundary");
  ExpectMalformed("multipart/form-data; boundary=\"b", "--b--", "no closing quote");
  ExpectMalformed("multipart/form-data; boundary=" + std::string(71, 'x'), "", "70 characters");
  ExpectMalformed(ct, "no boundary here", "does not contain its boundary");
  ExpectMalformed(ct, "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata",
                  "closing boundary is missing");
  ExpectMalformed(ct, "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n",
                  "inside its headers");
  ExpectMalformed(ct, "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
                  "no Content-Disposition");
  ExpectMalformed(ct, "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", "no name");
  ExpectMalformed(ct, "--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
                  "not form-data");
  ExpectMalformed(ct, "--b\r\nbroken header\r\n\r\nx\r\n--b--", "without ':'");
  ExpectMalformed(ct, "--bX\r\n", "not followed by a line break");
}

TEST(Multipart, LimitsThePartCount) {
  std::string body;
  for (int i = 0; i < 4; ++i) {
    body +=
        "--b\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nv\r\n";
  }
  body += "--b--\r\n";
  const std::string ct = "multipart/form-data; boundary=b";
  EXPECT_TRUE(ParseMultipart(ct, body, 4).ok());
  auto parts = ParseMultipart(ct, body, 3);
  ASSERT_FALSE(parts.ok());
  EXPECT_EQ(parts.status().code(), Code::kTooLarge);
  EXPECT_NE(parts.status().message().find("more than 3 parts"), std::string::npos);
}

TEST(Multipart, LimitsPartHeaders) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Junk: " + std::string(17 << 10, 'j') +
      "\r\n\r\nx\r\n--b--";
  ExpectMalformed("multipart/form-data; boundary=b", body, "16 KiB");
}

}  // namespace
}  // namespace openrms::http
