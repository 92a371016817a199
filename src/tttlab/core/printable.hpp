#pragma once
// Bytes from a file made fit for an error message: messages are one line of printable UTF-8
// (terminals, logs and JSON consumers choke on anything else), but readers quote names, keys and
// header excerpts that come straight from a possibly corrupt file.
#include <cstddef>
#include <string>
#include <string_view>

namespace tttlab {

// `bytes` with printable ASCII and well-formed, printable UTF-8 kept as they are, and every other
// byte (control characters, DEL, C1 controls, invalid or overlong UTF-8, surrogates) written as \xNN.
// Output beyond `max_bytes` of input is cut and marked with "...".
std::string printable(std::string_view bytes, size_t max_bytes = 200);

}  // namespace tttlab
