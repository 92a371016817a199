// `tttlab embed` and the text corpus under it: JSONL and plain-text inputs, labels, the file's own or
// a stratified seeded split, one-line errors with exit code 2 for every bad input, and the embedding
// folder it writes read unchanged by run, scale, reproduce table1 and sae train.
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "encoder/encoder_fixtures.hpp"
#include "test_support.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/data/text_corpus.hpp"

using namespace tttlab;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// n texts per class of three classes, each class with its own words.
std::string make_jsonl(int per_class, bool with_split, uint64_t seed = 0) {
  const std::vector<std::vector<std::string>> words = {
      {"cat", "dog", "mat", "sat", "the"}, {"good", "bad", "movie", "film", "very"}, {"news", "sport", "run", "fast", "world"}};
  const std::vector<std::string> names = {"animals", "reviews", "sport"};
  std::mt19937_64 rng(seed);
  std::string out;
  for (int i = 0; i < per_class; ++i) {
    for (size_t c = 0; c < 3; ++c) {
      std::string text;
      for (int w = 0; w < 6; ++w) text += (w ? " " : "") + words[c][rng() % words[c].size()];
      json j = {{"text", text}, {"label", names[c]}};
      if (with_split) j["split"] = i % 5 == 0 ? "test" : i % 5 == 1 ? "val" : "train";
      out += j.dump() + "\n";
    }
  }
  return out;
}

class EmbedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_tiny_sentence_model(dir_ / "model");
    test::write_text(dir_ / "texts.jsonl", make_jsonl(60, false));
  }
  test::CliRun tttlab(const std::string& args) { return test::run_tttlab(args, dir_.path()); }
  std::string embed_args(const std::string& input, const std::string& out) {
    return "embed --quiet --threads 1 --device cpu --model " + (dir_ / "model").string() + " --input " + input +
           " --out " + out;
  }
  void expect_exit_2(const std::string& args, const std::string& needle) {
    const auto r = tttlab(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  test::TempDir dir_;
};

}  // namespace

TEST(TextCorpus, ReadsJsonlWithLabelsAndSplits) {
  test::TempDir dir;
  test::write_text(dir / "a.jsonl", make_jsonl(5, true));
  const auto c = read_text_corpus(dir / "a.jsonl");
  EXPECT_EQ(c.texts.size(), 15u);
  EXPECT_EQ(c.class_names, (std::vector<std::string>{"animals", "reviews", "sport"}));
  EXPECT_EQ(c.labels[0], 0);
  EXPECT_EQ(c.labels[1], 1);
  ASSERT_EQ(c.splits.size(), 15u);
  const auto rows = split_text_corpus(c, 0.1, 0.2, 0);
  EXPECT_EQ(rows.test.size(), 3u);
  EXPECT_EQ(rows.val.size(), 3u);
  EXPECT_EQ(rows.train.size(), 9u);
  EXPECT_EQ(rows.rule, "the file's split field");
}

TEST(TextCorpus, IntegerLabelsSortByValue) {
  test::TempDir dir;
  test::write_text(dir / "a.jsonl", "{\"text\": \"x\", \"label\": 10}\n{\"text\": \"y\", \"label\": 9}\n\n"
                                    "{\"text\": \"z\", \"label\": \"10\"}\n");
  const auto c = read_text_corpus(dir / "a.jsonl");
  EXPECT_EQ(c.class_names, (std::vector<std::string>{"9", "10"}));
  EXPECT_EQ(c.labels, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(c.line_numbers, (std::vector<int64_t>{1, 2, 4}));
}

TEST(TextCorpus, PlainTextWithALabelsFile) {
  test::TempDir dir;
  test::write_text(dir / "t.txt", "first text\nsecond text\r\nthird\n");
  test::write_text(dir / "l.txt", "b\na\nb\n");
  TextCorpusOptions o;
  o.labels_file = dir / "l.txt";
  const auto c = read_text_corpus(dir / "t.txt", o);
  EXPECT_EQ(c.texts, (std::vector<std::string>{"first text", "second text", "third"}));
  EXPECT_EQ(c.labels, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_TRUE(c.splits.empty());
}

TEST(TextCorpus, StratifiedSplitIsSeededAndDisjoint) {
  test::TempDir dir;
  test::write_text(dir / "a.jsonl", make_jsonl(50, false));
  const auto c = read_text_corpus(dir / "a.jsonl");
  const auto a = split_text_corpus(c, 0.1, 0.2, 4), b = split_text_corpus(c, 0.1, 0.2, 4),
             other = split_text_corpus(c, 0.1, 0.2, 5);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.val, b.val);
  EXPECT_NE(a.test, other.test);
  std::set<int64_t> all(a.train.begin(), a.train.end());
  all.insert(a.val.begin(), a.val.end());
  all.insert(a.test.begin(), a.test.end());
  EXPECT_EQ(all.size(), 150u);
  EXPECT_EQ(a.train.size() + a.val.size() + a.test.size(), 150u);
  EXPECT_EQ(a.test.size(), 30u);  // 20% of each class of 50
  std::vector<int> per_class(3, 0);
  for (const int64_t r : a.test) ++per_class[static_cast<size_t>(c.labels[static_cast<size_t>(r)])];
  EXPECT_EQ(per_class, (std::vector<int>{10, 10, 10}));
}

TEST(TextCorpus, BadLinesAreOneLineErrors) {
  test::TempDir dir;
  auto expect = [&](const std::string& content, const std::string& needle, const std::string& name = "a.jsonl") {
    test::write_text(dir / name, content);
    TextCorpusOptions o;
    o.labels_file = dir / "labels.txt";
    test::expect_input_error([&] { read_text_corpus(dir / name, o); }, needle);
  };
  expect("{\"text\": \"x\", \"label\": \"a\"}\n{\"text\": \"y\"\n", "a.jsonl line 2: not valid JSON");
  expect("{\"text\": \"x\", \"label\": \"a\"}\n{\"text\": \"y\"}\n", "line 2: no label field 'label'");
  expect("{\"text\": \"\", \"label\": \"a\"}\n", "line 1: empty text");
  expect("{\"text\": \"x\", \"label\": \"a\"}\n{\"text\": \"y\", \"label\": \"a\"}\n", "only one class");
  expect("{\"text\": \"x\", \"label\": \"a\", \"split\": \"train\"}\n{\"text\": \"y\", \"label\": \"b\"}\n",
         "1 of 2 lines have a 'split' field");
  expect("{\"text\": \"x\", \"label\": \"a\", \"split\": \"holdout\"}\n", "split \"holdout\" is not train, val or test");
  expect(std::string("{\"text\": \"x\xff\", \"label\": \"a\"}\n"), "line 1: not valid UTF-8");
  test::write_text(dir / "labels.txt", "a\nb\n");
  expect("one\n\nthree\n", "t.txt line 2: empty text", "t.txt");
  expect("one\ntwo\nthree\n", "has only 2 labels for 3 texts", "t.txt");
  test::expect_input_error([&] { read_text_corpus(dir / "missing.jsonl"); }, "missing.jsonl: no such file");
  test::write_text(dir / "t2.txt", "one\n");
  test::expect_input_error([&] { read_text_corpus(dir / "t2.txt"); }, "needs --labels FILE");
}

TEST_F(EmbedCli, WritesAnEmbeddingFolderThatEveryStudyReads) {
  const fs::path out = dir_ / "emb";
  const auto r = tttlab(embed_args((dir_ / "texts.jsonl").string(), out.string()) + " --seed 3 --batch-size 16");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("embedded 180 texts (3 classes)"), std::string::npos) << r.out;
  const json j = json::parse(test::read_bytes(out / "embed.json"));
  EXPECT_EQ(j["classes"], json({"animals", "reviews", "sport"}));
  EXPECT_EQ(j["split"]["test"], 36);
  EXPECT_EQ(j["split"]["train"].get<int64_t>() + j["split"]["val"].get<int64_t>(), 144);
  EXPECT_GT(j["compute"]["sentences_per_second"].get<double>(), 0);
  EXPECT_EQ(j["model"]["pooling"], "mean");
  const Dataset data = load_embedding_folder(out);
  EXPECT_EQ(data.train.x.size(1), 32);
  EXPECT_EQ(data.num_classes, 3);
  ASSERT_TRUE(data.val.has_value());

  // The same texts, embedded again with another batch size: the same features.
  const auto again = tttlab(embed_args((dir_ / "texts.jsonl").string(), (dir_ / "emb2").string()) +
                            " --seed 3 --batch-size 5");
  ASSERT_EQ(again.code, 0) << again.err;
  const Dataset data2 = load_embedding_folder(dir_ / "emb2");
  EXPECT_LT((data.train.x - data2.train.x).abs().max().item<double>(), 1e-6);

  // Every study runs on the folder unchanged.
  const std::string d = " --quiet --threads 1 --data npy:" + out.string();
  const std::string small = " --seeds 0 --bootstrap 50 --head-epochs 20 --steps 10 --lr 0.1 --k 10 --majority-k 5";
  for (const std::string& args : {
           "run --quiet --threads 1 --device cpu --data npy:" + out.string() + " --out " + (dir_ / "run").string() +
               " --head-epochs 20 --k 10 --steps 10 --bootstrap 50",
           "scale k --no-plot" + d + " --out " + (dir_ / "sk").string() + " --ks 5,10 --seeds 0 --bootstrap 50 "
               "--head-epochs 20 --steps 10 --lr 0.1",
           "scale data --no-plot" + d + " --out " + (dir_ / "sd").string() + " --fractions 0.5,1" + small,
           "scale locality" + d + " --out " + (dir_ / "sl").string() + small,
           "scale experts --no-plot" + d + " --out " + (dir_ / "se").string() +
               " --experts 1,3 --seeds 0 --bootstrap 50 --head-epochs 20 --steps 10 --lr 0.1 --k 10",
           "scale model --no-plot" + d + " --out " + (dir_ / "sm").string() +
               " --widths 16 --seeds 0 --max-epochs 10 --mlp-batch 32 --bootstrap 50",
           "sae train --device cpu" + d + " --out " + (dir_ / "sae").string() +
               " --latent-dim 24 --k 2 --k-start 6 --k-anneal-steps 10 --epochs 4 --batch-size 32 --warmup-steps 4",
           "reproduce table1 --device cpu" + d + " --out " + (dir_ / "t1").string() +
               " --sae-latent-dim 24 --sae-k 2 --sae-k-start 6 --sae-k-anneal-steps 20 --sae-epochs 8"
               " --sae-batch-size 32 --sae-warmup-steps 5 --head-epochs 20 --k 10 --steps 10 --bootstrap 50"}) {
    const auto s = tttlab(args);
    EXPECT_EQ(s.code, 0) << args << "\n" << s.err;
  }
  EXPECT_TRUE(fs::exists(dir_ / "run" / "results.json"));
  EXPECT_TRUE(fs::exists(dir_ / "se" / "runs"));
  EXPECT_TRUE(fs::exists(dir_ / "t1" / "results.json"));
}

TEST_F(EmbedCli, PlainTextInputWithLabels) {
  test::write_text(dir_ / "t.txt", "the cat sat\ngood movie\nthe dog\nbad film\nthe mat\nvery good\n");
  test::write_text(dir_ / "l.txt", "pets\nfilms\npets\nfilms\npets\nfilms\n");
  const auto r = tttlab(embed_args((dir_ / "t.txt").string(), (dir_ / "e").string()) + " --labels " +
                        (dir_ / "l.txt").string() + " --val-fraction 0 --test-fraction 0.34");
  ASSERT_EQ(r.code, 0) << r.err;
  const Dataset data = load_embedding_folder(dir_ / "e");
  EXPECT_EQ(data.train.size() + data.test.size(), 6);
  EXPECT_FALSE(data.val.has_value());
}

TEST_F(EmbedCli, BadInputExitsTwoBeforeWriting) {
  const std::string jsonl = (dir_ / "texts.jsonl").string();
  expect_exit_2(embed_args((dir_ / "none.jsonl").string(), (dir_ / "o1").string()), "none.jsonl: no such file");
  test::write_text(dir_ / "bad.txt", std::string("fine\nnot \xc3\x28 utf8\n"));
  test::write_text(dir_ / "bad_labels.txt", "a\nb\n");
  expect_exit_2(embed_args((dir_ / "bad.txt").string(), (dir_ / "o2").string()) + " --labels " +
                    (dir_ / "bad_labels.txt").string(),
                "bad.txt line 2: not valid UTF-8");
  test::write_text(dir_ / "empty.txt", "fine\n\n");
  expect_exit_2(embed_args((dir_ / "empty.txt").string(), (dir_ / "o3").string()) + " --labels " +
                    (dir_ / "bad_labels.txt").string(),
                "empty.txt line 2: empty text");
  expect_exit_2("embed --quiet --model " + (dir_ / "nomodel").string() + " --input " + jsonl + " --out " +
                    (dir_ / "o4").string(),
                "not a folder");
  test::write_text(dir_ / "afile", "x");
  expect_exit_2(embed_args(jsonl, (dir_ / "afile").string()), "afile");
  expect_exit_2(embed_args(jsonl, (dir_ / "o5").string()) + " --dtype float16", "--dtype float16");
  expect_exit_2(embed_args(jsonl, (dir_ / "o6").string()) + " --test-fraction 0.9", "--test-fraction 0.9");
  for (const char* o : {"o1", "o2", "o3", "o4", "o5", "o6"}) EXPECT_FALSE(fs::exists(dir_ / o / "embed.json")) << o;
}
