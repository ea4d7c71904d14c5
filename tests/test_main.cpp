// Catch2 main that brings up MPI/PETSc once (library code uses PETSc's options and MPI).
#define CATCH_CONFIG_RUNNER
#include <petscsys.h>

#include <catch2/catch.hpp>

int main(int argc, char** argv) {
  int pargc = 1;
  char** pargv = argv;
  if (PetscInitialize(&pargc, &pargv, nullptr, nullptr)) return 1;
  const int result = Catch::Session().run(argc, argv);
  PetscFinalize();
  return result;
}
