// Malformed tokenizer.json and config.json files that used to get past the readers' checks (found by
// fuzzing them, fuzz/): each is now an InputError with a printable one-line message.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lm/lm_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/lm/bpe_tokenizer.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"
#include "tttlab/lm/decoder_config.hpp"

using namespace tttlab;
using namespace tttlab::lm;
using nlohmann::json;

namespace {

// A byte-level BPE tokenizer of the 256 single-byte tokens (ids 0..255) and no merges.
json byte_tokenizer() {
  const auto fixture = BpeTokenizer::from_file(test::lm_fixture("tokenizer.json"));
  json vocab = json::object();
  for (int64_t id = 0; id < 256; ++id) vocab[fixture.id_to_token(id)] = id;
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"added_tokens", json::array()}};
}

json tied_config() { return json::parse(test::read_bytes(test::lm_fixture("tied/config.json"))); }

}  // namespace

TEST(TokenizerFileErrors, TheByteTokenizerLoads) {
  const auto tok = BpeTokenizer::from_json_text(byte_tokenizer().dump(), "t.json");
  EXPECT_EQ(tok.vocab_size(), 256);
  EXPECT_EQ(tok.decode(tok.encode("ab c")), "ab c");
}

// The check for unsupported model fields (dropout, ...) dereferenced find()'s end() when the field
// was absent, the usual case: out of bounds for an object (ASan heap-buffer-overflow, found by
// fuzz_tokenizer; not visible without ASan), and an exception for a model that is not an object,
// which hid the real problem behind "cannot get value".
TEST(TokenizerFileErrors, AbsentModelFieldsAreNotDereferenced) {
  json j = byte_tokenizer();
  j["model"] = 5;
  test::expect_input_error([&] { BpeTokenizer::from_json_text(j.dump(), "t.json"); }, "t.json",
                           {"model.vocab must be an object"});
  json dropout = byte_tokenizer();
  dropout["model"]["dropout"] = 0.1;
  test::expect_input_error([&] { BpeTokenizer::from_json_text(dropout.dump(), "t.json"); }, "t.json",
                           {"model.dropout=0.1 is not supported"});
}

// A vocabulary id near 2^31 made the reader allocate a table of 2^31 strings (tens of GB) for a
// file of a few KB; ids are now bounded by the number of tokens in the file plus 65,536.
TEST(TokenizerFileErrors, IdsFarBeyondTheTokenCountAreRefused) {
  json j = byte_tokenizer();
  j["model"]["vocab"]["far"] = 2'000'000'000;
  test::expect_input_error([&] { BpeTokenizer::from_json_text(j.dump(), "t.json"); }, "t.json",
                           {"vocab entry \"far\" has a bad id 2000000000", "0 <= id < 65793"});
  // The slack is allowed: 257 tokens, so ids up to 257 + 65,536 - 1.
  j["model"]["vocab"]["far"] = 257 + 65536 - 1;
  EXPECT_EQ(BpeTokenizer::from_json_text(j.dump(), "t.json").vocab_size(), 257 + 65536);
  json added = byte_tokenizer();
  added["added_tokens"] = {{{"id", 1'000'000}, {"content", "<|x|>"}, {"special", true}}};
  test::expect_input_error([&] { BpeTokenizer::from_json_text(added.dump(), "t.json"); }, "t.json",
                           {"added token", "bad id", "0 <= id < 65793"});
}

// An id written as a float (1e30) was converted with a cast, which is undefined behaviour out of
// int64's range (UBSan: float-cast-overflow); an id must now be a JSON integer.
TEST(TokenizerFileErrors, NonIntegerIdsAreRefused) {
  json added = byte_tokenizer();
  added["added_tokens"] = {{{"id", 1e30}, {"content", "<|x|>"}}};
  test::expect_input_error([&] { BpeTokenizer::from_json_text(added.dump(), "t.json"); }, "t.json",
                           {"added token", "bad id (expected an integer"});
  added["added_tokens"] = {{{"id", 256.0}, {"content", "<|x|>"}}};
  test::expect_input_error([&] { BpeTokenizer::from_json_text(added.dump(), "t.json"); }, "bad id");
  json vocab = byte_tokenizer();
  vocab["model"]["vocab"]["f"] = 3.5;
  test::expect_input_error([&] { BpeTokenizer::from_json_text(vocab.dump(), "t.json"); }, "has a bad id 3.5");
}

// Bytes from the file in messages are escaped: a JSON syntax error used to echo the offending
// bytes raw (nlohmann's "last read: '...'"), and a string value with a control character (written as
// \u0001 in JSON) came out as the control character itself.
TEST(TokenizerFileErrors, MessagesAreValidUtf8) {
  const std::string msg =
      test::input_error_message([] { BpeTokenizer::from_json_text("{\"model\": \xff\xfe}", "t.json"); });
  EXPECT_NE(msg.find("\\xff"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\xff'), std::string::npos) << msg;
  json j = byte_tokenizer();
  j["pre_tokenizer"]["type"] = "Byte\x01Level\xc2\x85";
  test::expect_input_error([&] { BpeTokenizer::from_json_text(j.dump(), "t.json"); }, "t.json",
                           {"pre-tokenizer 'Byte\\x01Level\\xc2\\x85' is not supported"});
}

// A float where an integer belongs (1e30) was cast to int64: undefined behaviour out of range.
TEST(Qwen2ConfigFileErrors, IntegerFieldsMustBeIntegers) {
  for (const json& value : {json(1e30), json(64.0), json(18446744073709551615ull)}) {
    json j = tied_config();
    j["hidden_size"] = value;
    test::expect_input_error([&] { decoder_config_from_json(j, "config.json"); }, "config.json",
                             {"field 'hidden_size' is " + value.dump(), "expected an integer that fits in 64 bits"});
  }
}

// head_dim * num_attention_heads overflowed int64 (undefined behaviour) for a huge head_dim.
TEST(Qwen2ConfigFileErrors, HugeHeadDimIsRefusedWithoutOverflow) {
  json j = tied_config();
  j["head_dim"] = int64_t{1} << 62;
  test::expect_input_error([&] { decoder_config_from_json(j, "config.json"); }, "config.json",
                           {"head_dim 4611686018427387904 must equal hidden_size / num_attention_heads"});
  j["head_dim"] = j["hidden_size"].get<int64_t>() / j["num_attention_heads"].get<int64_t>();
  EXPECT_NO_THROW(decoder_config_from_json(j, "config.json"));
}

TEST(Qwen2ConfigFileErrors, MessagesAreValidUtf8) {
  json j = tied_config();
  j["hidden_act"] = "si\x7flu\xc2\x9f";
  test::expect_input_error([&] { decoder_config_from_json(j, "config.json"); }, "config.json",
                           {"hidden_act 'si\\x7flu\\xc2\\x9f' is not supported"});
}

// A shard name longer than the file system allows made std::filesystem throw filesystem_error (exit
// 1), found by fuzz_hf_checkpoint; it is bad input in the index file.
TEST(CheckpointIndexFileErrors, ShardNameTheFileSystemRefusesIsBadInput) {
  test::TempDir dir;
  test::write_bytes(dir / "config.json", test::read_bytes(test::lm_fixture("tied/config.json")));
  const std::string shard(300, 'B');
  test::write_bytes(dir / "model.safetensors.index.json",
                    json{{"weight_map", {{"model.embed_tokens.weight", shard + ".safetensors"}}}}.dump());
  test::expect_input_error([&] { (void)load_causal_lm(dir.path()); }, (dir / "model.safetensors.index.json").string(),
                           {"shard name", "cannot be a file here", "File name too long"});
}
