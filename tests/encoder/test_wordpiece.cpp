// The WordPiece tokenizer against the reference (Hugging Face tokenizers, recorded by
// tests/fixtures/bert/make_fixtures.py): token ids of 1,000+ varied sentences (Unicode, accents, CJK,
// control characters, very long texts, texts empty after normalisation), from tokenizer.json and from
// vocab.txt, with and without truncation; the real all-MiniLM-L6-v2 tokenizer when it is fetched.
#include <gtest/gtest.h>

#include "encoder/encoder_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/encoder/wordpiece_tokenizer.hpp"

using namespace tttlab;
using namespace tttlab::encoder;
using nlohmann::json;


TEST(WordPiece, TokenizerJsonIdsEqualTheReference) {
  const auto tok = WordPieceTokenizer::from_tokenizer_json(test::bert_fixture("tiny/tokenizer.json"));
  test::expect_reference_ids(tok, "ids_tiny_full", 0);
  test::expect_reference_ids(tok, "ids_tiny", test::bert_cases()["max_length_tiny"].get<int64_t>());
}

TEST(WordPiece, VocabTxtIdsEqualTheReference) {
  // The same tokenizer built from vocab.txt + tokenizer_config.json, as BertTokenizerFast does.
  test::TempDir dir;
  std::filesystem::copy_file(test::bert_fixture("tiny/vocab.txt"), dir / "vocab.txt");
  std::filesystem::copy_file(test::bert_fixture("tiny/tokenizer_config.json"), dir / "tokenizer_config.json");
  const auto tok = WordPieceTokenizer::from_model_dir(dir.path());
  test::expect_reference_ids(tok, "ids_tiny_full", 0);
}

TEST(WordPiece, RealMiniLMIdsEqualTheReference) {
  if (!std::filesystem::exists(test::minilm_dir() / "tokenizer.json")) {
    GTEST_SKIP() << "all-MiniLM-L6-v2 not fetched (scripts/fetch-models)";
  }
  const auto tok = WordPieceTokenizer::from_model_dir(test::minilm_dir());
  test::expect_reference_ids(tok, "ids_minilm", test::bert_cases()["max_length_minilm"].get<int64_t>());
}

TEST(WordPiece, StepsOnHandPickedText) {
  test::TempDir dir;
  test::write_tiny_sentence_model(dir.path());
  const auto tok = WordPieceTokenizer::from_model_dir(dir.path());
  EXPECT_EQ(tok.normalize("Caf\u00e9 \u4e2d\u6587\tOK\x01"), "cafe  \u4e2d  \u6587  ok");
  EXPECT_EQ(tok.pre_tokenize("hello, world!"), (std::vector<std::string>{"hello", ",", "world", "!"}));
  const auto ids = tok.encode("Dogs running");
  std::vector<std::string> tokens;
  for (const int64_t id : ids) tokens.push_back(tok.id_to_token(id));
  EXPECT_EQ(tokens, (std::vector<std::string>{"[CLS]", "dog", "##s", "run", "##n", "##ing", "[SEP]"}));
  // A word that cannot be covered is one [UNK]; special tokens in the raw text are kept.
  const auto unk = tok.encode("dog\u00df [MASK]");
  EXPECT_EQ(tok.id_to_token(unk[1]), "[UNK]");
  EXPECT_EQ(tok.id_to_token(unk[2]), "[MASK]");
  test::expect_input_error([&] { tok.encode(std::string("\xff")); }, "text: not valid UTF-8");
}
