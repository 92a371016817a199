#pragma once
// faiss::IndexFlatL2 behind NeighborIndex. Compiles without FAISS headers: the implementation
// lives in faiss_index_faiss.cpp, built only when FAISS is found (TTTLAB_HAVE_FAISS).
#include <memory>

#include "tttlab/neighbors/index.hpp"

namespace tttlab {

#ifdef TTTLAB_HAVE_FAISS
// Exact CPU index (faiss::IndexFlatL2); searches in query blocks of at most `block_queries`.
std::unique_ptr<NeighborIndex> make_faiss_index(int64_t block_queries = 1024);
#endif

}  // namespace tttlab
