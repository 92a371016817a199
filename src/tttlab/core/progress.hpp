#pragma once
// A terminal progress bar with rate and ETA, drawn on stderr.
// On a terminal it redraws in place at most 10 times a second; when stderr is not a terminal
// (CI logs, files) it prints one line at every 25% so logs stay short. Silent when disabled.
#include <chrono>
#include <cstdint>
#include <string>

namespace tttlab {

// Global switch (e.g. `--quiet`, tests). Default: enabled.
void set_progress_enabled(bool enabled);
bool progress_enabled();

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar();

  void advance(int64_t n = 1);
  // Extra text shown after the bar (e.g. the current loss).
  void set_postfix(std::string text);
  void finish();

 private:
  void draw(bool final_line);

  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  int last_quarter_ = 0;
  bool tty_, finished_ = false, enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1m23s", "4.2s", "512ms"
std::string format_duration(double seconds);

}  // namespace tttlab
