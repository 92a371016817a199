// The byte-level BPE tokenizer against the reference (Hugging Face tokenizers, recorded in
// tests/fixtures/lm/tokenizer_cases.json): ids of a few thousand varied lines, invalid UTF-8, decoding.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lm/lm_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/lm/bpe_tokenizer.hpp"

using namespace tttlab;
using namespace tttlab::lm;
using nlohmann::json;

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const json& cases() {
  static const json j = json::parse(read_text(test::lm_fixture("tokenizer_cases.json")));
  return j;
}

const BpeTokenizer& fixture_tokenizer() {
  static const BpeTokenizer t = BpeTokenizer::from_file(test::lm_fixture("tokenizer.json"));
  return t;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

}  // namespace

TEST(Tokenizer, IdsEqualTheReferenceOnThousandsOfLines) {
  const auto& tok = fixture_tokenizer();
  int mismatches = 0;
  for (const auto& c : cases()["texts"]) {
    const auto ids = tok.encode(c["text"].get<std::string>());
    const auto expected = c["ids"].get<std::vector<int64_t>>();
    if (ids != expected && ++mismatches <= 5) ADD_FAILURE() << "text " << c["text"].dump();
  }
  EXPECT_EQ(mismatches, 0) << "of " << cases()["texts"].size() << " lines";
  EXPECT_GE(cases()["texts"].size(), 3000u);
}

TEST(Tokenizer, InvalidUtf8IsReplacedAsTheReferenceSeesIt) {
  const auto& tok = fixture_tokenizer();
  for (const auto& c : cases()["invalid_utf8"]) {
    const std::string raw = from_hex(c["bytes_hex"].get<std::string>());
    EXPECT_EQ(sanitize_utf8(raw), c["text"].get<std::string>()) << c["bytes_hex"];
    EXPECT_EQ(tok.encode(raw), c["ids"].get<std::vector<int64_t>>()) << c["bytes_hex"];
  }
}

TEST(Tokenizer, DecodeEqualsTheReference) {
  const auto& tok = fixture_tokenizer();
  for (const auto& c : cases()["decode"]) {
    EXPECT_EQ(tok.decode(c["ids"].get<std::vector<int64_t>>()), c["text"].get<std::string>()) << c["ids"].dump();
  }
}

TEST(Tokenizer, DecodeOfEncodeReturnsTheTextForArbitraryBytes) {
  // Without a normaliser, decode(encode(x)) is x with invalid UTF-8 replaced (as the reference reads it).
  json j = json::parse(read_text(test::lm_fixture("tokenizer.json")));
  j["normalizer"] = nullptr;
  const auto tok = BpeTokenizer::from_json_text(j.dump(), "no-normalizer");
  std::mt19937 rng(7);
  for (const auto& c : cases()["texts"]) {
    const auto text = c["text"].get<std::string>();
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  }
  for (int i = 0; i < 300; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (auto& ch : bytes) ch = static_cast<char>(rng() % 256);
    EXPECT_EQ(tok.decode(tok.encode(bytes)), sanitize_utf8(bytes));
  }
  // With NFC, the round trip gives the composed form.
  const auto& nfc = fixture_tokenizer();
  EXPECT_EQ(nfc.decode(nfc.encode("e\xCC\x81")), "\xC3\xA9");
}

TEST(Tokenizer, SpecialTokensAndVocabulary) {
  const auto& tok = fixture_tokenizer();
  EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 1200);
  EXPECT_EQ(tok.vocab_size(), 1203);
  const auto ids = tok.encode("a<|im_start|>b");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], 1201);
  EXPECT_EQ(tok.decode(ids, /*skip_special_tokens=*/true), "ab");
  EXPECT_EQ(tok.decode(ids), "a<|im_start|>b");
  test::expect_input_error([&] { tok.decode({99999}); }, "99999");
}

TEST(Tokenizer, BadFilesAreInputErrors) {
  test::expect_input_error([] { BpeTokenizer::from_file("/nonexistent/tokenizer.json"); }, "cannot open");
  test::expect_input_error([] { BpeTokenizer::from_json_text("{", "t.json"); }, "t.json", {"JSON"});
  json j = json::parse(read_text(test::lm_fixture("tokenizer.json")));
  json wordpiece = j;
  wordpiece["model"]["type"] = "WordPiece";
  test::expect_input_error([&] { BpeTokenizer::from_json_text(wordpiece.dump(), "t.json"); }, "WordPiece");
  json lower = j;
  lower["normalizer"] = {{"type", "Lowercase"}};
  test::expect_input_error([&] { BpeTokenizer::from_json_text(lower.dump(), "t.json"); }, "Lowercase");
  json bad_merge = j;
  bad_merge["model"]["merges"].push_back(json::array({"zzq", "qqz"}));
  test::expect_input_error([&] { BpeTokenizer::from_json_text(bad_merge.dump(), "t.json"); }, "merge");
  json bad_regex = j;
  bad_regex["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  test::expect_input_error([&] { BpeTokenizer::from_json_text(bad_regex.dump(), "t.json"); }, "regex");
}
