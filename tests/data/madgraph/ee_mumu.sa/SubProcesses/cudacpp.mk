# nis test fixture in the shape of the MadGraph5_aMC@NLO CUDACPP plugin's
# standalone output (written for nis's tests): builds the C++ check program
# in a P1_* folder. AVX=none|sse4|avx2|512y|512z chooses the SIMD width.
#   make -f ../cudacpp.mk AVX=avx2
AVX ?= avx2
ifeq ($(AVX),none)
  MARCH = -march=x86-64
else ifeq ($(AVX),sse4)
  MARCH = -march=nehalem
else ifeq ($(AVX),avx2)
  MARCH = -march=haswell
else ifeq ($(AVX),512y)
  MARCH = -march=skylake-avx512 -mprefer-vector-width=256
else ifeq ($(AVX),512z)
  MARCH = -march=skylake-avx512 -DMGONGPU_PVW512
endif
CXXFLAGS = -O3 -std=c++17 $(MARCH) -I. -I.. -I../../src
SOURCES = CPPProcess.cc ../MatrixElementKernels.cc ../../src/Parameters_sm.cc ../../src/read_slha.cc

check.exe: check_sa.cc $(SOURCES)
	$(CXX) $(CXXFLAGS) -o $@ $^
