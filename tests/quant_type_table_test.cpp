// The codec list (kquant/codecs.h) is the one source of every dispatch: the scalar registry, the SIMD lane
// drivers, the CUDA kernels. These tests tie them together, so that a type added to one and missing from
// another fails here, on any machine (the CUDA dispatch is host code: no GPU is needed to check it).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "kquant/codecs.h"
#include "kquant/quantize.h"
#include "kquant/types.h"
#if KQUANT_HAVE_CUDA
#include "kquant/cuda_backend.h"
#endif

namespace kquant {
namespace {

TEST(TypeTable, QuantizableTypesAreTheCodecList) {
    std::set<Type> listed;
    Codecs::for_each([&]<class C>(Tag<C>) {
        EXPECT_TRUE(listed.insert(C::type).second) << type_info(C::type).name << " listed twice";
        const RowCodec* c = scalar_codec(C::type);
        ASSERT_NE(c, nullptr) << type_info(C::type).name;
        EXPECT_EQ(c->type, C::type);
        EXPECT_EQ(type_info(C::type).block_elems, C::kBlockElems);
        EXPECT_EQ(type_info(C::type).block_bytes, sizeof(typename C::Block));
    });
    const std::vector<Type> q = quantizable_types();
    EXPECT_EQ(std::set<Type>(q.begin(), q.end()), listed);
    EXPECT_EQ(q.size(), Codecs::size);
    for (const TypeInfo& ti : kTypes) EXPECT_EQ(scalar_codec(ti.id) != nullptr, has_codec(ti.id)) << ti.name;
}

// Every level this CPU runs has a codec for every type; a codec with a lane interface (phased super-blocks,
// 32-element fit/store blocks) is vectorized there, so its ISA codec is not the scalar one.
TEST(TypeTable, EverySimdLevelCoversEveryType) {
    for (CpuIsa isa : {CpuIsa::Avx2, CpuIsa::Avx512}) {
        if (!cpu_isa_supported(isa)) {
            std::cout << "[ skipped  ] " << cpu_isa_name(isa) << ": this CPU (or build) lacks it\n";
            continue;
        }
        Codecs::for_each([&]<class C>(Tag<C>) {
            const RowCodec* c = cpu_codec(C::type, isa);
            ASSERT_NE(c, nullptr) << type_info(C::type).name << " on " << cpu_isa_name(isa);
            if (has_lane_driver(C::type)) {
                EXPECT_NE(c, scalar_codec(C::type)) << type_info(C::type).name << " is not vectorized on "
                                                    << cpu_isa_name(isa);
            }
        });
    }
}

TEST(TypeTable, EveryTypeHasACudaKernel) {
#if KQUANT_HAVE_CUDA
    for (Type t : quantizable_types()) {
        EXPECT_FALSE(cuda::variants_for(t).empty()) << type_info(t).name << " has no CUDA kernel";
        const auto v = cuda::variants_for(t);
        EXPECT_NE(std::find(v.begin(), v.end(), cuda::default_variant(t, false)), v.end()) << type_info(t).name;
        EXPECT_NE(std::find(v.begin(), v.end(), cuda::default_variant(t, true)), v.end()) << type_info(t).name;
    }
#else
    GTEST_SKIP() << "this build has no CUDA path (KQUANT_CUDA=OFF or no nvcc)";
#endif
}

}  // namespace
}  // namespace kquant
