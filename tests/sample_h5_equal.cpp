// sample_h5_equal A.h5 B.h5 DATASET: exit 0 when the dataset is identical in both
// files (the `hjbft sample` results on different rank counts must be bit-equal).
#include <cstdio>
#include <exception>

#include "hjbft/io/field_io.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: sample_h5_equal A.h5 B.h5 DATASET\n");
    return 2;
  }
  try {
    const auto a = hjbft::read_dataset(argv[1], argv[3]), b = hjbft::read_dataset(argv[2], argv[3]);
    if (a.dims != b.dims || a.data != b.data) {
      std::fprintf(stderr, "%s differs between %s and %s\n", argv[3], argv[1], argv[2]);
      return 1;
    }
    std::printf("%s: %zu values identical\n", argv[3], a.data.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
