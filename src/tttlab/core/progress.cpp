#include "tttlab/core/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace tttlab {

namespace {
std::atomic<bool> g_enabled{true};
}

void set_progress_enabled(bool enabled) { g_enabled = enabled; }
bool progress_enabled() { return g_enabled; }

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 1.0) return fmt::format("{}ms", static_cast<int>(s * 1000));
  if (s < 60.0) return fmt::format("{:.1f}s", s);
  const auto total = static_cast<int64_t>(s);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(std::max<int64_t>(total, 0)),
      tty_(isatty(STDERR_FILENO) != 0),
      enabled_(g_enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::set_postfix(std::string text) { postfix_ = std::move(text); }

void ProgressBar::advance(int64_t n) {
  done_ = std::min(done_ + n, total_);
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ >= std::chrono::milliseconds(100) || done_ == total_) {
      last_draw_ = now;
      draw(false);
    }
  } else if (total_ > 0) {
    const int quarter = static_cast<int>(4 * done_ / total_);
    if (quarter > last_quarter_ && done_ < total_) {
      last_quarter_ = quarter;
      draw(false);
    }
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true);
}

void ProgressBar::draw(bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : -1.0;
  const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const std::string rate_text = rate >= 1.0 || rate == 0.0 ? fmt::format("{:.1f} {}/s", rate, unit_)
                                                           : fmt::format("{:.2f} s/{}", 1.0 / rate, unit_);
  std::string line =
      fmt::format("{:<14} [{}] {:>3.0f}% {}/{} {} {} {}", label_, bar, 100 * frac, done_, total_, rate_text,
                  final_line ? "in " + format_duration(elapsed) : "ETA " + format_duration(eta), postfix_);
  if (tty_) {
    fmt::print(stderr, "\r{:<100}{}", line, final_line ? "\n" : "");
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
}

}  // namespace tttlab
