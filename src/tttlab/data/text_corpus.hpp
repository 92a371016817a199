#pragma once
// Labelled text for `tttlab embed`: a JSONL file (one object per line: a text field, a label field and
// optionally a split field "train"/"val"/"test"), or a plain text file of one text per line with its
// labels in a second file (one per line). Labels are class names (strings or integers); classes get
// ids in sorted name order, integers by value. Every bad line is an InputError naming the file and
// the line: not UTF-8, an empty text, malformed JSON, a missing field, an unknown split, label and
// text counts that differ.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tttlab {

struct TextCorpusOptions {
  std::string text_field = "text";
  std::string label_field = "label";
  std::string split_field = "split";   // used when every line has it; a line without it is then an error
  std::filesystem::path labels_file;   // for a plain text file: one label per line
  int64_t limit = 0;                   // > 0: only the first `limit` texts (quick trials)
  int64_t min_classes = 2;             // classification needs two; a language-model corpus may hold one domain
};

struct TextCorpus {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;           // class ids, one per text
  std::vector<std::string> class_names;  // by id
  std::vector<std::string> splits;       // per text ("train", "val" or "test"), or empty when the file has none
  std::vector<int64_t> line_numbers;     // 1-based line of each text in its file, for messages
  std::string source;                    // the input file
};

TextCorpus read_text_corpus(const std::filesystem::path& input, const TextCorpusOptions& options = {});

// Row lists of a train/val/test split: the file's own split when it has one, else a stratified,
// seeded one (test_fraction of each class to test, then val_fraction of the whole to val, from the
// rest; classes with a single text stay in train).
struct TextSplitRows {
  std::vector<int64_t> train, val, test;
  std::string rule;  // "from the file's 'split' field" or the fractions and seed
};
TextSplitRows split_text_corpus(const TextCorpus& corpus, double val_fraction, double test_fraction, uint64_t seed);

}  // namespace tttlab
